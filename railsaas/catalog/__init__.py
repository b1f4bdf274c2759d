"""Catalog: the app templates customers deploy (public reads cached in Redis, admin writes,
import from Railway) and the variables a customer fills in when deploying one.
"""
