"""Domain types: the values the database stores and the services pass around.

Leaf modules: each imports only the matching engine (``bot.matching``) and ``bot.errors``, so the
database layer (``db``) may use them without reaching up into the application. The behaviour
built on them lives above: ``bot.watch`` finds watch targets in articles, ``bot.tuning`` applies
tuning changes to the engine, ``bot.lists`` parses list files into ``ParsedList``.
"""
