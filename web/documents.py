"""RFQ document endpoints: the buyer's documents, who read them, and the suppliers'
quotation documents (``rfq/documents.py`` says who may read what)."""

from __future__ import annotations

from typing import Any

from rfq import documents
from rfq.documents import DocumentCreate, QuotationCreate
from web import files
from web.routing import Call, api

Doc = dict[str, Any]


@api("POST", "/api/rfqs/{rfq_id:int}/documents", body=DocumentCreate, response=Doc, status=201)
async def add(call: Call[DocumentCreate]) -> Any:
    """The buyer attaches an uploaded file (drawing, specification, terms) to the RFQ or
    one of its lots."""
    return await call.state.db.run(documents.add, call.principal, call.path["rfq_id"], call.body)


@api("GET", "/api/rfqs/{rfq_id:int}/documents", response=list[Doc])
async def listed(call: Call[Any]) -> Any:
    """The RFQ's documents (the buyer and operators also see how many suppliers read
    each; a supplier whether it read it)."""
    return await call.state.db.run(documents.listed, call.principal, call.path["rfq_id"])


@api("GET", "/api/rfqs/{rfq_id:int}/documents/{document_id:int}/file")
async def download(call: Call[Any]) -> Any:
    """Download a document (the buyer, operators, suppliers taking part; recorded)."""
    row = await call.state.db.run(
        documents.download, call.principal, call.path["rfq_id"], call.path["document_id"]
    )
    return files.send(call, row)


@api("GET", "/api/rfqs/{rfq_id:int}/documents/{document_id:int}/downloads", response=list[Doc])
async def readers(call: Call[Any]) -> Any:
    """Who downloaded the document, when (the buyer and operators)."""
    return await call.state.db.run(
        documents.downloads, call.principal, call.path["rfq_id"], call.path["document_id"]
    )


@api("POST", "/api/rfqs/{rfq_id:int}/quotations", body=QuotationCreate, response=Doc, status=201)
async def add_quotation(call: Call[QuotationCreate]) -> Any:
    """A supplier taking part attaches its quotation document."""
    return await call.state.db.run(
        documents.add_quotation, call.principal, call.path["rfq_id"], call.body
    )


@api("GET", "/api/rfqs/{rfq_id:int}/quotations", response=list[Doc])
async def quotations(call: Call[Any]) -> Any:
    """Quotation documents: all for the buyer and operators, its own for a supplier."""
    return await call.state.db.run(documents.quotations, call.principal, call.path["rfq_id"])


@api("GET", "/api/rfqs/{rfq_id:int}/quotations/{quotation_id:int}/file")
async def quotation_file(call: Call[Any]) -> Any:
    """Download a quotation document (its supplier, the buyer, operators)."""
    row = await call.state.db.run(
        documents.quotation_file, call.principal, call.path["rfq_id"], call.path["quotation_id"]
    )
    return files.send(call, row)


ROUTES = [add, listed, download, readers, add_quotation, quotations, quotation_file]
