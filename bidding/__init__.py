"""The auction engine's pure core: rules, bid decisions, auction and clock state machines.

No I/O, no clock and no randomness live here: time, ids and nonces are arguments, money
is an integer count of minor units. The Redis and websocket adapters sit on top, and the
Redis Lua scripts mirror `bidding.decide` and `bidding.auction.place_bid` exactly.
"""
