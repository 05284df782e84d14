//! The results dieticians follow over time (weight, BMI, HbA1c, glucose, lipids, eGFR, blood
//! pressure), how a PHP's LOINC codes map onto them, and the unit each is shown in.
//!
//! A PHP may send one measure under several codes (glucose in serum or in blood, HbA1c as a
//! percentage or in mmol/mol) and in several units (mg/dL or mmol/L): each value is converted
//! into the measure's unit here, once, so every client draws the same series. A value in a
//! unit with no conversion is kept but left out of the series, never guessed.

/// One measure as people read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measure {
    /// Stable key (`weight`, `hba1c`, …): the series' name in the API and the UI.
    pub key: &'static str,
    pub name: &'static str,
    /// The unit the series is shown in.
    pub unit: &'static str,
    /// The LOINC codes that carry it.
    pub codes: &'static [&'static str],
}

/// Every measure followed, in the order a patient's page shows them.
pub const MEASURES: &[Measure] = &[
    Measure {
        key: "weight",
        name: "Weight",
        unit: "kg",
        codes: &["29463-7", "3141-9"],
    },
    Measure {
        key: "bmi",
        name: "BMI",
        unit: "kg/m2",
        codes: &["39156-5"],
    },
    Measure {
        key: "systolic",
        name: "Blood pressure, systolic",
        unit: "mmHg",
        codes: &["8480-6"],
    },
    Measure {
        key: "diastolic",
        name: "Blood pressure, diastolic",
        unit: "mmHg",
        codes: &["8462-4"],
    },
    Measure {
        key: "hba1c",
        name: "HbA1c",
        unit: "%",
        codes: &["4548-4", "17856-6", "59261-8"],
    },
    Measure {
        key: "glucose",
        name: "Glucose",
        unit: "mmol/L",
        codes: &["2345-7", "2339-0", "14749-6", "15074-8", "1558-6"],
    },
    Measure {
        key: "cholesterol",
        name: "Total cholesterol",
        unit: "mmol/L",
        codes: &["2093-3", "14647-2"],
    },
    Measure {
        key: "hdl",
        name: "HDL cholesterol",
        unit: "mmol/L",
        codes: &["2085-9", "14646-4"],
    },
    Measure {
        key: "ldl",
        name: "LDL cholesterol",
        unit: "mmol/L",
        codes: &["13457-7", "18262-6", "2089-1", "22748-8"],
    },
    Measure {
        key: "triglycerides",
        name: "Triglycerides",
        unit: "mmol/L",
        codes: &["2571-8", "14927-8"],
    },
    Measure {
        key: "egfr",
        name: "eGFR",
        unit: "mL/min/1.73m2",
        codes: &["33914-3", "62238-1", "98979-8", "48642-3", "48643-1"],
    },
];

/// The measure a LOINC code carries, if it is one followed.
pub fn measure_of(code: &str) -> Option<&'static Measure> {
    MEASURES.iter().find(|m| m.codes.contains(&code))
}

/// A unit as PHPs write it, compared loosely (`mg/dl`, `mg/dL`, `kg/m²`, `mmol/mol`…).
fn unit_key(unit: &str) -> String {
    unit.trim()
        .to_ascii_lowercase()
        .replace(['²'], "2")
        .replace(' ', "")
}

/// `value` in `unit`, as the measure's own unit; `None` when there is no conversion.
pub fn convert(measure: &Measure, value: f64, unit: &str) -> Option<f64> {
    let from = unit_key(unit);
    if from == unit_key(measure.unit) {
        return Some(value);
    }
    // mg/dL per mmol/L: glucose 18.016; cholesterol (total, HDL, LDL) 38.67; triglycerides 88.57.
    let per_mmol = match measure.key {
        "glucose" => Some(18.016),
        "cholesterol" | "hdl" | "ldl" => Some(38.67),
        "triglycerides" => Some(88.57),
        _ => None,
    };
    match (measure.key, from.as_str()) {
        (_, "mg/dl") => per_mmol.map(|f| value / f),
        // IFCC mmol/mol to NGSP %: % = mmol/mol / 10.929 + 2.15.
        ("hba1c", "mmol/mol") => Some(value / 10.929 + 2.15),
        ("weight", "lb" | "lbs" | "[lb_av]") => Some(value * 0.453_592_37),
        ("weight", "g") => Some(value / 1000.0),
        ("egfr", "ml/min/{1.73_m2}" | "ml/min/1.73m^2" | "ml/min") => Some(value),
        ("systolic" | "diastolic", "mm[hg]") => Some(value),
        ("bmi", "kg/m^2") => Some(value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn near(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 0.01)
    }

    #[test]
    fn units_convert_into_the_measures_own() {
        let glucose = measure_of("2345-7").expect("glucose");
        assert!(near(convert(glucose, 99.0, "mg/dL"), 5.495));
        assert!(near(convert(glucose, 5.5, "mmol/L"), 5.5));
        let ldl = measure_of("13457-7").expect("LDL");
        assert!(near(convert(ldl, 116.0, "mg/dl"), 3.0));
        let tg = measure_of("2571-8").expect("triglycerides");
        assert!(near(convert(tg, 150.0, "mg/dL"), 1.693));
        let hba1c = measure_of("59261-8").expect("HbA1c in mmol/mol");
        assert!(near(convert(hba1c, 48.0, "mmol/mol"), 6.542));
        let weight = measure_of("29463-7").expect("weight");
        assert!(near(convert(weight, 154.0, "lb"), 69.853));
        let bmi = measure_of("39156-5").expect("BMI");
        assert!(near(convert(bmi, 24.2, "kg/m²"), 24.2));
        // No conversion known: not guessed.
        assert_eq!(convert(glucose, 5.0, "furlongs"), None);
        assert_eq!(convert(weight, 5.0, "mg/dL"), None);
    }

    #[test]
    fn every_code_belongs_to_one_measure() {
        let mut seen = std::collections::HashSet::new();
        for m in MEASURES {
            for code in m.codes {
                assert!(seen.insert(*code), "{code} is in two measures");
            }
        }
        assert_eq!(measure_of("0000-0"), None);
    }
}
