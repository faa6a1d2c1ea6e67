-- Schema 11: keyed reads instead of whole tables.
-- An idempotency key names the stored batch that holds its event (with its host
-- and day, one segment): a conflict at import and `locate` read that segment, not
-- the host's whole day. PostgreSQL numbers batches from `batch_ids`, drawn before
-- the keys are claimed. Keys stored before this schema have none (NULL) and keep
-- the host-day scan.
ALTER TABLE event_keys ADD COLUMN batch bigint;
-- A close reads the voids of a host's days, the statements and the disputes of the
-- contracts it closes.
CREATE INDEX voids_host_day ON voids (host, day);
CREATE INDEX statements_contract ON statements (contract, start_day);
CREATE INDEX disputes_contract ON disputes (contract);
