"""The reveal and the other push notifications of an event, as durable jobs.

* `scheduling`: what the request handlers call after their transaction commits: the reveal
  job (re)scheduled for release_at, the join notification, the collapsed "New photos added".
* `service`: the jobs' work and SQL: the delivery ledger (momento.push_deliveries) decides who
  gets a notification, so a retried job or two racing workers never send one twice.
* `tasks`: the procrastinate tasks (`reveal:send`, `reveal:notify_joined`,
  `reveal:notify_new_photos`, and the `reveal:safety_net` run every minute).
"""
