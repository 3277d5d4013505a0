-- A revoked endpoint's key enrolls again only with a token that names it.
ALTER TABLE tokens ADD COLUMN readmit TEXT NOT NULL DEFAULT '';  -- endpoint ids, one per line
