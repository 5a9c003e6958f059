"""Premium through RevenueCat: webhooks, purchase verification and what makes an event premium.

The rules live in `momento/sql/migrations/0009_billing.sql` (its header) and in `service`.
"""
