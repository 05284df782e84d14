-- What the app's lists sort and filter by: patients by name (a 10,000-patient list pages
-- through this index instead of sorting every row), documents by patient and date.
CREATE INDEX rows_patient_name ON rows (table_name, lower(json_extract(data, '$.name')), id);
CREATE INDEX rows_document_patient ON rows (table_name, json_extract(data, '$.patient_id'), json_extract(data, '$.date'));
CREATE INDEX conflicts_row ON conflicts (table_name, row_id) WHERE resolved_at IS NULL;
CREATE INDEX rejected_row ON rejected (table_name, row_id);
CREATE INDEX rows_document_date ON rows (table_name, json_extract(data, '$.date'), id);
