"""Contracts and their escrow: from an award to released (or refunded) money.

``model`` holds the states, the moves and the tables; ``moves`` how every command runs
(locked, authorized, once per key, recorded, sealed, notified); ``commands`` the moves
from an offer to released money; ``disputes`` opening, evidence and rulings;
``reading`` what the parties and operators see; ``bonds`` the bid bonds settled once an
RFQ is decided.
"""
