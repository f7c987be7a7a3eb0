"""MQTT bridge and Home Assistant discovery: the client wrapper, topics, discovery payloads,
the bounded outbox and the bridge service the ``mqtt`` feature runs."""
