"""A short walk through the platform with a client generated from its own OpenAPI document
(openapi-python-client): if an operation, schema or field the document describes does not
match what the server does, this fails. Run by scripts/api-contract against a real server.

Usage: python smoke.py BASE_URL ADMIN_EMAIL PASSWORD   (the generated package importable)
"""

import datetime
import sys
import uuid

from records_client import AuthenticatedClient, Client
from records_client.api.audit import list_audit_entries
from records_client.api.auth import login
from records_client.api.documents import create_document, list_patient_documents
from records_client.api.patients import create_patient, get_patient, list_patients, update_patient
from records_client.api.users import create_user, get_me
from records_client.models import (
    DocumentType,
    LoginRequest,
    NewPatient,
    NewTextDocument,
    NewUser,
    PagePatient,
    Patient,
    PatientUpdate,
    Problem,
    TokenPair,
    User,
    UserType,
)


def expect(value, kind, what):
    if not isinstance(value, kind):
        raise SystemExit(f"{what}: expected {kind.__name__}, got {value!r}")
    return value


def signed_in(base, email, password):
    tokens = login.sync(client=Client(base_url=base), body=LoginRequest(email=email, password=password))
    tokens = expect(tokens, TokenPair, f"sign-in of {email}")
    return AuthenticatedClient(base_url=base, token=tokens.access_token)


def main(base, admin_email, password):
    admin = signed_in(base, admin_email, password)
    me = expect(get_me.sync(client=admin), User, "GET /users/me")
    assert me.type_ == UserType.ADMIN, me

    email = f"dee-{uuid.uuid4().hex[:8]}@contract.example"
    dee = create_user.sync(
        client=admin,
        body=NewUser(email=email, name="Dee Contract", password=password, type_=UserType.DIETICIAN),
    )
    expect(dee, User, "POST /users")
    diet = signed_in(base, email, password)

    created = create_patient.sync(
        client=diet,
        body=NewPatient(name="Ana Contract", email="ana@contract.example", birth_date=datetime.date(1978, 4, 12)),
    )
    patient = expect(created, Patient, "POST /patients")
    assert patient.birth_date == datetime.date(1978, 4, 12) and patient.version == 1, patient

    changed = update_patient.sync(patient.id, client=diet, body=PatientUpdate(dietary_preferences="vegetarian"))
    changed = expect(changed, Patient, "PUT /patients/{id}")
    assert changed.dietary_preferences == "vegetarian" and changed.version == 2, changed
    again = expect(get_patient.sync(patient.id, client=diet), Patient, "GET /patients/{id}")
    assert again.name == "Ana Contract", again

    page = expect(list_patients.sync(client=diet, q="contract"), PagePatient, "GET /patients")
    assert [p.id for p in page.items] == [patient.id], page

    note = create_document.sync(
        patient.id,
        client=diet,
        body=NewTextDocument(type_=DocumentType.PROGRESS_NOTE, date=datetime.date(2026, 11, 30),
                             title="First consultation", content="Energy better."),
    )
    assert not isinstance(note, Problem) and note is not None, note
    docs = list_patient_documents.sync(patient.id, client=diet)
    assert [d.title for d in docs.items] == ["First consultation"], docs

    # A refusal arrives as the documented problem, with its code.
    refused = create_patient.sync(client=diet, body=NewPatient(name="Ana Contract", email="ana@contract.example"))
    refused = expect(refused, Problem, "a duplicate POST /patients")
    assert refused.code == "duplicate_patient" and refused.status == 409, refused

    trail = list_audit_entries.sync(client=admin, patient_id=patient.id)
    assert len(trail.items) >= 2, trail
    print(f"contract smoke test: {len(trail.items)} audited reads, every call as documented")


if __name__ == "__main__":
    main(*sys.argv[1:4])
