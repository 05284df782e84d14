-- Patients whose every file this device keeps ahead ("Keep this patient available offline"):
-- their documents' bodies are fetched after each sync, and never given back to the budget.
CREATE TABLE kept_offline (
    patient_id TEXT PRIMARY KEY,
    since      TEXT NOT NULL
);
