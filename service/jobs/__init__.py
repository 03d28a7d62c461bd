"""The job runner, no HTTP: a bounded worker pool, the dispatcher that feeds it queued items from the database,
the tasks it runs (job items, cut-outs, reprompts, theme swaps), and the Services container they share."""
