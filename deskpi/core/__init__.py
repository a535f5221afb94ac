"""The pure core: standard library only, time passed in, no threads or sleeps.

A test enforces that importing anything under ``deskpi.core`` pulls in none of
gpiozero, flask, sqlite_utils or apscheduler.
"""
