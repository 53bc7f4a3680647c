"""The real-time call path and its bulk twin: `authorize` decides whether a call may connect and
holds its price; `charging` rates a finished call, finds who pays and describes its charge and
record; `complete` (the platform API) and `importing` (CSV files) are thin adapters over it."""
