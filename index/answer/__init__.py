"""From ranked passages to an answer: sentence extraction, what may stand as answer text,
the kinds of thing a question asks for, questions about the book itself, and refusal.
"""
