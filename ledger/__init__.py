"""The bottom layer every other folder may import: typed records, drop decisions, counters, ids and file helpers."""
