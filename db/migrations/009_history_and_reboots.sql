-- Error classes in the history and on jobs, the endpoint's reports found by
-- endpoint, and when a machine was told to reboot (a reboot that never comes
-- back ends the run after the policy's deadline).
ALTER TABLE events ADD COLUMN error_class INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN error_class INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN reboot_ordered_ms INTEGER NOT NULL DEFAULT 0;
CREATE INDEX reports_by_endpoint ON reports(endpoint_id, received_ms);
-- The lost-reboot sweep (every second, on the writer) reads only these.
CREATE INDEX jobs_by_reboot_order ON jobs(reboot_ordered_ms) WHERE reboot_ordered_ms > 0;
