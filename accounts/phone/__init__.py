"""The phone and text channel (Twilio): webhooks for the voice menu and for messages, over the same
services as the web. Every webhook is checked with `signatures.twilio_signed`."""
