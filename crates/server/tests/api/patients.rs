//! Patients: the duplicate warning, search and paging, and deletion.

use crate::both_backends;
use domain::UserType;
use serde_json::json;

both_backends! {
    async fn a_duplicate_email_points_at_the_existing_patient(app) {
        let d = app.user(UserType::Dietician).await;
        let first = app.post("/api/v1/patients", &d, json!({"name": "Ana Lima", "email": "ana@example.org"})).await.expect(201);
        let dup = app.post("/api/v1/patients", &d, json!({"name": "Ana L.", "email": " ANA@example.org "}))
            .await.problem(409, "duplicate_patient");
        assert_eq!(dup.body["existing_id"], first.body["id"]);
        // Another dietician's patient may share the email.
        let other = app.user(UserType::Dietician).await;
        app.post("/api/v1/patients", &other, json!({"name": "Ana Lima", "email": "ana@example.org"})).await.expect(201);
        // Renaming an email onto an existing one is the same conflict.
        let second = app.patient(&d, json!({"email": "bea@example.org"})).await;
        let res = app.put(&format!("/api/v1/patients/{second}"), &d, json!({"email": "ana@example.org"})).await.problem(409, "duplicate_patient");
        assert_eq!(res.body["existing_id"], first.body["id"]);
    }

    async fn search_and_pages(app) {
        let d = app.user(UserType::Dietician).await;
        for name in ["Carla Souza", "Ana Lima", "Bruno Costa", "Ana Paula", "Diego Alves"] {
            app.patient(&d, json!({"name": name})).await;
        }
        let names = |r: crate::helpers::Res| -> Vec<String> {
            r.body["items"].as_array().expect("items").iter().map(|i| i["name"].as_str().expect("n").to_owned()).collect()
        };
        assert_eq!(names(app.get("/api/v1/patients?q=ana", &d).await.expect(200)), ["Ana Lima", "Ana Paula"]);
        let first = app.get("/api/v1/patients?limit=3", &d).await.expect(200);
        let cursor = first.body["next_cursor"].as_str().expect("more").to_owned();
        assert_eq!(names(first), ["Ana Lima", "Ana Paula", "Bruno Costa"]);
        let second = app.get(&format!("/api/v1/patients?limit=3&cursor={cursor}"), &d).await.expect(200);
        assert!(second.body["next_cursor"].is_null());
        assert_eq!(names(second), ["Carla Souza", "Diego Alves"]);
    }

    async fn deleting_a_patient_hides_their_documents(app) {
        let d = app.user(UserType::Dietician).await;
        let p = app.patient(&d, json!({})).await;
        let doc = app.text_document(&d, p, "Note").await;
        app.delete(&format!("/api/v1/patients/{p}"), &d).await.expect(204);
        app.get(&format!("/api/v1/documents/{doc}"), &d).await.problem(404, "not_found");
        app.get(&format!("/api/v1/patients/{p}/documents"), &d).await.problem(404, "not_found");
        // The same email can be used again afterwards (tombstones do not block it).
        let again = app.patient(&d, json!({})).await;
        assert_ne!(again, p);
    }

    async fn a_patient_list_is_audited_like_single_reads(app) {
        let admin = app.user(UserType::Admin).await;
        let d = app.user(UserType::Dietician).await;
        let listed = [app.patient(&d, json!({})).await, app.patient(&d, json!({})).await];
        app.get("/api/v1/patients", &d).await.expect(200);
        let trail = app.get(&format!("/api/v1/audit?user_id={}", d.id), &admin).await.expect(200);
        let mut read: Vec<String> = trail.body["items"].as_array().expect("items").iter()
            .filter(|e| e["entity"] == "patient")
            .map(|e| e["patient_id"].as_str().expect("patient").to_owned())
            .collect();
        read.sort();
        let mut expected: Vec<String> = listed.iter().map(ToString::to_string).collect();
        expected.sort();
        assert_eq!(read, expected, "each listed patient is a recorded read");
    }

    async fn phi_reads_are_audited(app) {
        let admin = app.user(UserType::Admin).await;
        let d = app.user(UserType::Dietician).await;
        let p = app.patient(&d, json!({})).await;
        let doc = app.text_document(&d, p, "Note").await;
        app.get(&format!("/api/v1/patients/{p}"), &d).await.expect(200);
        app.get(&format!("/api/v1/documents/{doc}"), &d).await.expect(200);
        app.get(&format!("/api/v1/documents/{doc}/content"), &d).await.expect(200);
        // A refused read is not a read.
        let other = app.user(UserType::Dietician).await;
        app.get(&format!("/api/v1/patients/{p}"), &other).await.expect(404);

        app.get("/api/v1/audit", &d).await.problem(403, "forbidden");
        let trail = app.get(&format!("/api/v1/audit?patient_id={p}"), &admin).await.expect(200);
        let seen: Vec<(String, String, String)> = trail.body["items"].as_array().expect("items").iter()
            .map(|e| (e["user_id"].as_str().expect("u").to_owned(), e["entity"].as_str().expect("e").to_owned(),
                      e["entity_id"].as_str().unwrap_or("").to_owned()))
            .collect();
        let me = d.id.to_string();
        assert_eq!(seen, vec![
            (me.clone(), "document content".to_owned(), doc.to_string()),
            (me.clone(), "document".to_owned(), doc.to_string()),
            (me, "patient".to_owned(), p.to_string()),
        ]);
        let by_other = app.get(&format!("/api/v1/audit?user_id={}", other.id), &admin).await.expect(200);
        assert_eq!(by_other.ids().len(), 0);
        // By day (UTC): the day of the three reads (as stamped, so a run across midnight reads
        // the same), none the day before or after.
        let stamped = trail.body["items"][0]["at"].as_str().expect("at");
        let day: chrono::NaiveDate = stamped[..10].parse().expect("a day");
        let (before, after) = (day.pred_opt().expect("day"), day.succ_opt().expect("day"));
        assert!(trail.body["items"].as_array().expect("items").iter().all(|e| e["at"].as_str().is_some_and(|a| a.starts_with(&day.to_string()))),
                "the three reads on one day");
        for (day, reads) in [(day, 3), (before, 0), (after, 0)] {
            let listed = app.get(&format!("/api/v1/audit?patient_id={p}&from={day}&to={day}"), &admin).await.expect(200);
            assert_eq!(listed.body["items"].as_array().expect("items").len(), reads, "reads on {day}");
        }
    }

    async fn phi_reads_fail_closed_while_the_audit_trail_cannot_be_written_and_none_is_lost(app) {
        let admin = app.user(UserType::Admin).await;
        let d = app.user(UserType::Dietician).await;
        let p = app.patient(&d, json!({})).await;
        let doc = app.text_document(&d, p, "Note").await;
        let postgres = app.database_url.starts_with("postgres");
        // The trail's store refuses every write (as a full disk or a lost connection would).
        let (down, up) = if postgres {
            ("CREATE FUNCTION audit_down() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit down'; END $$; \
              CREATE TRIGGER audit_down BEFORE INSERT ON phi_access_log FOR EACH ROW EXECUTE FUNCTION audit_down()",
             "DROP TRIGGER audit_down ON phi_access_log; DROP FUNCTION audit_down()")
        } else {
            ("CREATE TRIGGER audit_down BEFORE INSERT ON phi_access_log BEGIN SELECT RAISE(ABORT, 'audit down'); END",
             "DROP TRIGGER audit_down")
        };
        sqlx::raw_sql(down).execute(app.db.audit()).await.expect("break the trail");

        // Reads handed over before the failure shows are served (and kept for the retry);
        // from then on PHI is refused, with a reason and when to retry.
        let mut served = 0;
        let refused = loop {
            let res = app.get(&format!("/api/v1/patients/{p}"), &d).await;
            if res.status.as_u16() != 200 {
                break res;
            }
            served += 1;
            assert!(served < 200, "reads kept being served with the trail down");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        let refused = refused.problem(503, "audit_unavailable");
        assert!(refused.headers.get("retry-after").is_some());
        assert!(!refused.body.to_string().contains(&p.to_string()), "no PHI in the refusal");
        app.get("/api/v1/patients", &d).await.problem(503, "audit_unavailable");
        app.get(&format!("/api/v1/documents/{doc}/content"), &d).await.problem(503, "audit_unavailable");
        app.get(&format!("/api/v1/patients/{p}/documents"), &d).await.problem(503, "audit_unavailable");
        app.get("/api/v1/sync/changes", &d).await.problem(503, "audit_unavailable");
        app.get(&format!("/api/v1/audit?patient_id={p}"), &admin).await.problem(503, "audit_unavailable");
        // What holds no PHI still works.
        app.get("/api/v1/users/me", &d).await.expect(200);

        // Once it can be written again, the held entries are stored and reads come back.
        sqlx::raw_sql(up).execute(app.db.audit()).await.expect("mend the trail");
        let started = std::time::Instant::now();
        while app.get(&format!("/api/v1/patients/{p}"), &d).await.status.as_u16() != 200 {
            assert!(started.elapsed() < std::time::Duration::from_secs(20), "reads never came back");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let trail = app.get(&format!("/api/v1/audit?patient_id={p}&user_id={}&limit=200", d.id), &admin).await.expect(200);
        let patient_reads = trail.body["items"].as_array().expect("items").iter()
            .filter(|e| e["entity"] == "patient").count();
        // Every served read, and the one that just came back; refused ones are not reads.
        assert_eq!(patient_reads, served + 1, "{}", trail.body);
    }

    async fn a_dietician_sees_who_read_their_own_patients_and_no_one_else_s(app) {
        let admin = app.user(UserType::Admin).await;
        let d = app.user(UserType::Dietician).await;
        let other = app.user(UserType::Dietician).await;
        let p = app.patient(&d, json!({})).await;
        let theirs = app.patient(&other, json!({})).await;
        app.get(&format!("/api/v1/patients/{p}"), &admin).await.expect(200);

        let trail = app.get(&format!("/api/v1/audit?patient_id={p}"), &d).await.expect(200);
        let readers: Vec<&str> = trail.body["items"].as_array().expect("items").iter()
            .filter_map(|e| e["user_id"].as_str()).collect();
        assert_eq!(readers, [admin.id.to_string().as_str()], "{}", trail.body);
        // Not the whole trail, not a colleague's patient (not even that it exists), not as
        // someone the patient was shared with.
        app.get("/api/v1/audit", &d).await.problem(403, "forbidden");
        app.get(&format!("/api/v1/audit?user_id={}", admin.id), &d).await.problem(403, "forbidden");
        app.get(&format!("/api/v1/audit?patient_id={theirs}"), &d).await.problem(404, "not_found");
        let doc = app.text_document(&d, p, "Note").await;
        let prac = app.user(UserType::Practitioner).await;
        app.post(&format!("/api/v1/documents/{doc}/share"), &d, json!({"practitioner_id": prac.id})).await.expect(201);
        app.get(&format!("/api/v1/audit?patient_id={p}"), &prac).await.problem(403, "forbidden");
    }
}
