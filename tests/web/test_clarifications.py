"""Clarifications (Q&A) end to end, on SQLite and PostgreSQL: a supplier asks, the buyer
answers once for everyone, the answer reaches every supplier taking part over ``/ws``
and as a notification without the asker's identity, and both are on the lot's audit
chain."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from websockets.sync.client import connect

from tests.support import (
    LiveServer,
    assert_error,
    bearer,
    certified_supplier,
    live_auction,
    register,
    rfq_body,
)


def _rfq_of(client: httpx.Client, buyer: dict[str, Any], auction_id: int) -> int:
    state = client.get(f"/api/auctions/{auction_id}", headers=bearer(buyer["token"])).json()
    return int(state["rfq_id"])


def test_a_question_answered_once_reaches_everyone_without_the_asker(
    client: httpx.Client, live: LiveServer, operator: str
) -> None:
    buyer = register(client, "buyer")
    a = certified_supplier(client, operator, ["fasteners"])
    b = certified_supplier(client, operator, ["fasteners"])
    stranger = certified_supplier(client, operator, ["chemicals"])
    auction_id = live_auction(client, buyer, seconds=120)
    rfq_id = _rfq_of(client, buyer, auction_id)
    questions = f"/api/rfqs/{rfq_id}/questions"

    url = live.url.replace("http", "ws") + "/ws"
    with connect(url, additional_headers=bearer(b["token"])) as ws:
        assert json.loads(ws.recv())["type"] == "hello"
        ws.send(json.dumps({"op": "subscribe", "auction": auction_id}))
        assert json.loads(ws.recv())["type"] == "snapshot"

        text = "Is zinc flake coating acceptable instead of hot-dip galvanising?"
        asked = client.post(questions, json={"question": text}, headers=bearer(a["token"]))
        assert asked.status_code == 201, asked.text
        question = asked.json()
        assert question["question"] == text and question["answer"] is None
        assert question["mine"] is True and "asked_by_company" not in question
        unanswered = client.get(questions, headers=bearer(b["token"]))
        assert unanswered.status_code == 200 and unanswered.json() == []  # not b's to see
        assert_error(client.get(questions, headers=bearer(stranger["token"])), 404)
        assert_error(client.post(questions, json={"question": "x"},
                                 headers=bearer(stranger["token"])), 404)  # fmt: skip
        assert_error(client.post(questions, json={"question": "x"},
                                 headers=bearer(buyer["token"])), 403, "supplier_only")  # fmt: skip
        assert_error(client.post(questions, json={"question": ""},
                                 headers=bearer(a["token"])), 422)  # fmt: skip
        told = client.get("/api/notifications", headers=bearer(buyer["token"])).json()
        note = next(n for n in told if n["kind"] == "question_asked")
        assert a["company"]["name"] not in json.dumps(note) and note["body"] == text

        answer_url = f"{questions}/{question['id']}/answer"
        reply = "Yes, zinc flake to ISO 10683 with 720 h salt spray."
        assert_error(client.post(answer_url, json={"answer": reply},
                                 headers=bearer(a["token"])), 404)  # fmt: skip
        answered = client.post(answer_url, json={"answer": reply}, headers=bearer(buyer["token"]))
        assert answered.status_code == 200, answered.text
        assert answered.json()["answer"] == reply
        again = client.post(answer_url, json={"answer": "again"}, headers=bearer(buyer["token"]))
        assert_error(again, 409, "already_answered")

        frame = json.loads(ws.recv())
        while frame["type"] != "clarification":
            frame = json.loads(ws.recv())
        assert frame["question"] == text and frame["answer"] == reply
        assert frame["auction"] == auction_id and frame["id"] == question["id"]
        assert set(frame) == {"type", "auction", "seq", "epoch", "at", "id", "lot_id",
                              "question", "answer"}  # fmt: skip

    for who in (a, b):
        seen = client.get(questions, headers=bearer(who["token"])).json()
        assert [(q["question"], q["answer"], q["mine"]) for q in seen] == [(text, reply, who is a)]
        notes = client.get("/api/notifications", headers=bearer(who["token"])).json()
        clar = [n for n in notes if n["kind"] == "clarification"]
        assert len(clar) == 1 and clar[0]["data"]["answer"] == reply
        assert a["company"]["name"] not in json.dumps(clar[0])
    buyer_view = client.get(questions, headers=bearer(buyer["token"])).json()
    assert "asked_by_company" not in buyer_view[0]
    ops_view = client.get(questions, headers=bearer(operator)).json()
    assert ops_view[0]["asked_by_company"] == a["company"]["id"]

    log = client.get(f"/api/auctions/{auction_id}/audit", headers=bearer(buyer["token"])).json()
    assert log["verified"] is True
    kinds = {e["kind"]: e["data"] for e in log["entries"]}
    assert kinds["question"]["question"] == text and "company" not in kinds["question"]
    assert kinds["clarification"]["answer"] == reply


def test_questions_close_at_the_rfq_deadline(client: httpx.Client, operator: str) -> None:
    buyer = register(client, "buyer")
    a = certified_supplier(client, operator, ["fasteners"])
    body = rfq_body(minutes_from_now=30)
    late = datetime.fromisoformat(body["ends_at"]) + timedelta(minutes=1)
    too_late = client.post("/api/rfqs", json={**body, "questions_until": late.isoformat()},
                           headers=bearer(buyer["token"]))  # fmt: skip
    assert_error(too_late, 422, "invalid_times")
    past = datetime.now(UTC) - timedelta(minutes=1)
    made = client.post("/api/rfqs", json={**body, "questions_until": past.isoformat()},
                       headers=bearer(buyer["token"]))  # fmt: skip
    assert made.status_code == 201, made.text
    rfq_id = made.json()["id"]
    assert made.json()["questions_until"] is not None
    published = client.post(f"/api/rfqs/{rfq_id}/publish", headers=bearer(buyer["token"]))
    assert published.status_code == 200, published.text
    closed = client.post(f"/api/rfqs/{rfq_id}/questions", json={"question": "Drawings?"},
                         headers=bearer(a["token"]))  # fmt: skip
    assert_error(closed, 409, "questions_closed")
