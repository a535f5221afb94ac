"""Home Assistant over MQTT: the desk's states and discovery out, safe commands in.

Imported only when ``[mqtt] enabled = true``; paho-mqtt comes with the `mqtt` extra.
"""
