-- The OS product, out of the inventory blob, so status queries filter on it in
-- SQL (rows from before this migration are filled in when the store opens).
ALTER TABLE endpoints ADD COLUMN os_product INTEGER NOT NULL DEFAULT 0;
CREATE INDEX endpoints_by_product ON endpoints(os_product, state, id);
