"""The conversation flows, one file each: first response, sending, delivery status, replies, opt-out.

Each handler is a plain function named by what it does, written against ``ConversationStore``; the registered names
(``conversations.<function>``) are stored with every delivery, so they never change.
"""
