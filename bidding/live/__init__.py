"""The auction engine's adapters: the Lua scripts and their Redis calls (``engine``,
``batching``), the SQL journal, rebuilds from SQL (``restore``), a bid end to end
(``desk``) and the scheduler. The pure core they drive is the ``bidding`` package."""
