"""Bridges from the desk to the systems a building already runs (Home Assistant over MQTT)."""
