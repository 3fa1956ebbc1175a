"""Names shared by several layers, defined once."""

# The per-sample statistics field Data-Juicer's filters read and write.
DJ_STATS = "__dj__stats__"
