"""Python clients of the Supvisors event interface (PyZMQ subscriber, and websocket subscriber for event_link=WS)."""
