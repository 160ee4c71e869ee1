//! The demo data set: a task and a few task runs that exercise what a storage client must
//! handle. [`FakeDeck::demo`](super::FakeDeck::demo) starts a fake with it.
//!
//! | Run | Items | What it is for |
//! |---|---|---|
//! | [`STATEMENTS_RUN`] | 45 | Pagination (3 pages at the default `limit` of 20): monthly utility-bill PDFs from January 2025 back, with extractions. The first is [`STATEMENT_JAN_2025`], whose extraction is the Storage guide's utility-bill example verbatim. One item has `file_size` as a string ([`STRING_SIZE_STATEMENT`]), one failed extraction ([`FAILED_EXTRACTION_STATEMENT`]). |
//! | [`EDGE_CASES_RUN`] | 19 | File names that collide (`receipt.pdf` twice, `Receipt.PDF`) or are hostile (`../evil.pdf`, `a/b.csv`, `..\evil.txt`, empty, `CON`, a NUL byte, 300 characters, trailing dot and spaces), non-ASCII, an empty file, `object: "storage"`, every `purpose` plus an unknown one, `metadata: null`, `file_size` as a string, a failed extraction, and the guide's shape without `purpose`/`result`. |
//! | [`LARGE_FILE_RUN`] | 1 | [`LARGE_FILE`]: a 64 MiB generated `video/mp4` ([`LARGE_FILE_LEN`]), streamed, never held in memory. |
//! | [`EMPTY_RUN`] | 0 | A completed run that produced no files. |
//! | [`FAILED_RUN`] | 0 | A failed run with `errors`. |
//!
//! All runs belong to [`TASK`], a task with storage, extraction and deduplication enabled and
//! the Storage guide's `extraction_schema`, of the agent [`AGENT`]. A second task,
//! [`STATEMENTS_TASK`], can be run (`POST /v2/tasks/task_demo_statements/run`): its runs are
//! queued for 1 s, run for 2 s and complete with the 45 statements as storage items.

use super::content::Content;
use super::lifecycle::RunPlan;
use super::seed::{ItemSeed, RunSeed, TaskSeed};
use serde_json::{Value, json};

/// The agent every demo task and run belongs to (seeded as an agent too).
pub const AGENT: &str = "agt_demo";
/// The demo agent's name.
pub const AGENT_NAME: &str = "Utility bills";
/// The demo task ("Fetch utility bills").
pub const TASK: &str = "task_demo_utility_bills";
/// A task whose runs go through the lifecycle ([`RunPlan::new`]: queued 1 s, running 2 s) and
/// capture the same 45 statements as [`STATEMENTS_RUN`], so the no-account demo can run a task
/// end to end.
pub const STATEMENTS_TASK: &str = "task_demo_statements";
/// 45 monthly statements: three pages at the default `limit`.
pub const STATEMENTS_RUN: &str = "trun_demo_statements";
/// Number of items in [`STATEMENTS_RUN`].
pub const STATEMENTS_COUNT: usize = 45;
/// `statement_jan_2025.pdf`: starts with `%PDF-1.7`; its extraction is
/// [`utility_bill_extraction`].
pub const STATEMENT_JAN_2025: &str = "stor_demo_statements_0001";
/// `statement_dec_2024.pdf`: its extraction is the Storage guide's list example.
pub const STATEMENT_DEC_2024: &str = "stor_demo_statements_0002";
/// A statement whose `file_size` is rendered as a JSON string.
pub const STRING_SIZE_STATEMENT: &str = "stor_demo_statements_0007";
/// A statement with `result: "failure"` and `extraction: null`.
pub const FAILED_EXTRACTION_STATEMENT: &str = "stor_demo_statements_0012";
/// Colliding, hostile and unusual items.
pub const EDGE_CASES_RUN: &str = "trun_demo_edge_cases";
/// Number of items in [`EDGE_CASES_RUN`].
pub const EDGE_CASES_COUNT: usize = 19;
/// One large generated file.
pub const LARGE_FILE_RUN: &str = "trun_demo_large_file";
/// The large file's storage item ID.
pub const LARGE_FILE: &str = "stor_demo_large_file_0001";
/// The large file's length: 64 MiB.
pub const LARGE_FILE_LEN: u64 = 64 * 1024 * 1024;
/// The seed of the large file's generated content (`Content::generated(LARGE_FILE_LEN, seed)`).
pub const LARGE_FILE_SEED: u64 = 0xdec0_0001;
/// A completed run with no files.
pub const EMPTY_RUN: &str = "trun_demo_empty";
/// A failed run with no files.
pub const FAILED_RUN: &str = "trun_demo_failed";

/// The Storage guide's "A utility bill extraction might return" example, verbatim.
pub fn utility_bill_extraction() -> Value {
    json!({
        "company_name": "EnergyLink",
        "account_number": "58291-44720",
        "billing_date": "2025-01-22",
        "billing_period": {
            "start_date": "2024-12-18",
            "end_date": "2025-01-20",
            "total_days": 33
        },
        "amount_due": 8247.41,
        "payment_due_date": "2025-02-14",
        "currency": "USD",
        "service_locations": [
            {
                "service_type": "Fuel",
                "service_address": {
                    "street": "4421 OAK VIEW LN UNIT 3A",
                    "city": "CAMBRIDGE",
                    "state": "MA",
                    "postal_code": "02140"
                },
                "total_usage": 5348,
                "total_usage_unit": "Therms",
                "total_charges": 8214.67
            }
        ]
    })
}

/// The Storage guide's `extraction_schema` example.
pub fn extraction_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "vendor_name": { "type": "string" },
            "total_amount": { "type": "number" },
            "invoice_date": { "type": "string", "format": "date" },
            "line_items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "description": { "type": "string" },
                        "amount": { "type": "number" }
                    }
                }
            }
        }
    })
}

/// The demo tasks.
pub fn tasks() -> Vec<TaskSeed> {
    vec![
        TaskSeed::new(TASK, "Fetch utility bills")
            .agent_id(AGENT)
            .status("live")
            .prompt("Download every utility bill statement in the date range.")
            .input_schema(json!({
                "type": "object",
                "properties": {
                    "start_date": { "type": "string" },
                    "end_date": { "type": "string" }
                }
            }))
            .output_schema(json!({
                "type": "object",
                "properties": { "bill_count": { "type": "integer" } }
            }))
            .storage(json!({
                "enabled": true,
                "extraction": true,
                "extraction_schema": extraction_schema(),
                "deduplication": true
            }))
            .extraction(true),
        TaskSeed::new(STATEMENTS_TASK, "Fetch statements")
            .agent_id(AGENT)
            .status("live")
            .prompt("Download every monthly statement.")
            .output_schema(json!({
                "type": "object",
                "properties": { "bill_count": { "type": "integer" } }
            }))
            .storage(json!({ "enabled": true, "extraction": true }))
            .extraction(true)
            .run_plan(
                RunPlan::new()
                    .items(statements())
                    .output(json!({ "bill_count": STATEMENTS_COUNT })),
            ),
    ]
}

/// The 45 statements of [`STATEMENTS_RUN`] (and of every run of [`STATEMENTS_TASK`]), newest
/// first.
pub fn statements() -> Vec<ItemSeed> {
    (0..STATEMENTS_COUNT).map(statement).collect()
}

/// The demo runs, in the order they are seeded.
pub fn runs() -> Vec<RunSeed> {
    let run = |id: &str| RunSeed::new(id).task_id(TASK).agent_id(AGENT);
    vec![
        run(STATEMENTS_RUN)
            .input(json!({ "start_date": "2021-05-01", "end_date": "2025-01-31" }))
            .output(json!({ "bill_count": STATEMENTS_COUNT }))
            .items(statements()),
        run(EDGE_CASES_RUN).items(edge_cases()),
        run(LARGE_FILE_RUN).item(
            ItemSeed::new(
                "recording.mp4",
                "video/mp4",
                Content::generated(LARGE_FILE_LEN, LARGE_FILE_SEED),
            )
            .metadata(json!({ "duration_seconds": 1800 })),
        ),
        run(EMPTY_RUN).output(json!({ "bill_count": 0 })),
        run(FAILED_RUN)
            .status("failed")
            .result(Some("failure"))
            .error(
                "source",
                "source_unavailable",
                "The source website did not respond.",
            ),
    ]
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Statement `index` months before January 2025.
fn statement(index: usize) -> ItemSeed {
    let months_since_0 = 2025 * 12 - index; // January 2025 is month 0 of 2025.
    let (year, month) = (months_since_0 / 12, months_since_0 % 12);
    let name = format!("statement_{}_{year}.pdf", MONTHS[month]);
    let cents = 500_000 + (index * 7_919 * 31) % 400_000;
    let amount = cents as f64 / 100.0;
    let extraction = match index {
        0 => utility_bill_extraction(),
        1 => json!({
            "company_name": "EnergyLink",
            "account_number": "58291-44720",
            "billing_date": "2024-12-22",
            "amount_due": 6925.18,
            "currency": "USD"
        }),
        _ => json!({
            "company_name": "EnergyLink",
            "account_number": "58291-44720",
            "billing_date": format!("{year}-{:02}-22", month + 1),
            "amount_due": amount,
            "currency": "USD"
        }),
    };
    let title = format!("EnergyLink statement - {} {year}", MONTH_NAMES[month]);
    let due = match index {
        0 => "8247.41".to_owned(),
        1 => "6925.18".to_owned(),
        _ => format!("{amount:.2}"),
    };
    let pdf = statement_pdf(&[
        &title,
        "Account 58291-44720",
        &format!("Amount due: USD {due}"),
    ]);
    let item = ItemSeed::new(name, "application/pdf", Content::bytes(pdf))
        .metadata(json!({ "source_page": "billing/statements", "page_count": 1 }))
        .extraction(extraction);
    match index {
        6 => item.file_size_as_string(),
        11 => item.result("failure"),
        _ => item,
    }
}

/// A small, well-formed one-page PDF 1.7 with `lines` of text.
fn statement_pdf(lines: &[&str]) -> Vec<u8> {
    let mut text = String::from("BT /F1 14 Tf 72 720 Td 18 TL");
    for line in lines {
        let escaped = line
            .replace('\\', "\\\\")
            .replace('(', "\\(")
            .replace(')', "\\)");
        text.push_str(&format!(" ({escaped}) '"));
    }
    text.push_str(" ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_owned(),
        format!("<< /Length {} >>\nstream\n{text}\nendstream", text.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut pdf: Vec<u8> = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (n, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", n + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

fn edge_cases() -> Vec<ItemSeed> {
    let pdf = |title: &str| Content::bytes(statement_pdf(&[title]));
    let text = |s: &'static str| Content::bytes(s.as_bytes());
    vec![
        ItemSeed::new("receipt.pdf", "application/pdf", pdf("Receipt 1 of 2")),
        ItemSeed::new("receipt.pdf", "application/pdf", pdf("Receipt 2 of 2")),
        ItemSeed::new("Receipt.PDF", "application/pdf", pdf("Receipt, upper case")),
        ItemSeed::new("../evil.pdf", "application/pdf", pdf("Path traversal")),
        ItemSeed::new("a/b.csv", "text/csv", text("a,b\n1,2\n")),
        ItemSeed::new(
            "..\\evil.txt",
            "text/plain",
            text("Windows path traversal\n"),
        ),
        ItemSeed::new("", "application/octet-stream", Content::generated(512, 1)),
        ItemSeed::new(
            "CON",
            "text/plain",
            text("Reserved device name on Windows\n"),
        ),
        ItemSeed::new("nul\0byte.txt", "text/plain", text("NUL in the name\n")),
        ItemSeed::new(
            format!("{}.txt", "x".repeat(300)),
            "text/plain",
            text("A 304-character file name\n"),
        ),
        ItemSeed::new(
            " trailing dot and spaces. ",
            "text/plain",
            text("Trailing dot\n"),
        ),
        ItemSeed::new(
            "relevé_février_2025.pdf",
            "application/pdf",
            pdf("Releve fevrier 2025"),
        ),
        ItemSeed::new("empty.txt", "text/plain", Content::bytes(Vec::new())),
        ItemSeed::new(
            "input_invoice.pdf",
            "application/pdf",
            pdf("Invoice (input)"),
        )
        .object("storage")
        .purpose("attachment")
        .metadata(Value::Null),
        ItemSeed::new(
            "bill_to_extract.pdf",
            "application/pdf",
            pdf("Bill (extract)"),
        )
        .purpose("extraction")
        .extraction(json!({ "amount_due": 12.5, "currency": "USD" })),
        ItemSeed::new("screen.png", "image/png", Content::generated(2048, 2)).purpose("screenshot"),
        ItemSeed::new("usage.csv", "text/csv", text("date,kwh\n2025-01-01,31\n"))
            .file_size_as_string(),
        ItemSeed::new(
            "scan_unreadable.pdf",
            "application/pdf",
            Content::generated(4096, 3),
        )
        .result("failure"),
        ItemSeed::new(
            "statement_guide_shape.pdf",
            "application/pdf",
            pdf("Guide shape"),
        )
        .without_purpose()
        .without_result(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_have_the_documented_shape() {
        let first = statement(0);
        assert_eq!(first.file_name, "statement_jan_2025.pdf");
        assert_eq!(first.extraction, utility_bill_extraction());
        assert_eq!(first.content.slice(0..8), b"%PDF-1.7"[..]);
        assert_eq!(statement(1).file_name, "statement_dec_2024.pdf");
        assert_eq!(statement(44).file_name, "statement_may_2021.pdf");
        assert!(statement(6).file_size_as_string);
        assert_eq!(statement(11).result.as_deref(), Some("failure"));
        assert_eq!(statement(11).extraction, Value::Null);
    }

    #[test]
    fn pdf_xref_offsets_point_at_objects() {
        let pdf = statement_pdf(&["Hello (world)"]);
        let text = String::from_utf8_lossy(&pdf).into_owned();
        let xref_at: usize = text
            .rsplit("startxref\n")
            .next()
            .and_then(|t| t.lines().next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert!(pdf[xref_at..].starts_with(b"xref"));
        let table = String::from_utf8_lossy(&pdf[xref_at..]).into_owned();
        let entries: Vec<usize> = table
            .lines()
            .skip(3)
            .take(5)
            .map(|l| l[..10].parse().unwrap())
            .collect();
        for (n, offset) in entries.iter().enumerate() {
            assert!(pdf[*offset..].starts_with(format!("{} 0 obj", n + 1).as_bytes()));
        }
    }

    #[test]
    fn counts_match_the_constants() {
        let runs = runs();
        assert_eq!(runs[0].items.len(), STATEMENTS_COUNT);
        assert_eq!(runs[1].items.len(), EDGE_CASES_COUNT);
    }
}
