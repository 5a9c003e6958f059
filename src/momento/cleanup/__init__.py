"""Cleanup: expired free events, their hard delete, account deletion's files, orphans."""
