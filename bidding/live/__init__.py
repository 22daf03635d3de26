"""The auction engine's adapters: the Lua scripts and their Redis calls (``engine``,
``batching``), engine output into SQL (``store``) through the group-commit writer
(``journal``), rebuilds from SQL (``restore``), every bid and move end to end (``desk``)
and the scheduler. The pure core they drive is the ``bidding`` package; the domain's
reactions to what they commit come in as hooks (``store.DOMAIN_HOOKS``)."""
