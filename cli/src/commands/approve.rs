//! `tollgate approve`: one signed approval or rejection record.

use miette::miette;
use tollgate_engine::approvals::{ApprovalDecision, ApprovalRecord, MAX_APPROVAL_TTL_SECONDS};
use tollgate_engine::{EntityRef, Timestamp};

use crate::cli::ApproveArgs;
use crate::exit;
use crate::input::{evaluation_time, read_key_file, read_request_file};
use crate::output::println;

pub fn run(args: ApproveArgs) -> miette::Result<u8> {
    let approver: EntityRef = args
        .approver
        .parse()
        .map_err(|e| miette!("--approver: {e}"))?;
    let key = read_key_file(&args.key)?;
    if let Some(owner) = &key.approver
        && *owner != approver
    {
        return Err(miette!("--key belongs to {owner}, not {approver}"));
    }
    let evidence = args.evidence.filter(|e| !e.trim().is_empty());
    if args.reject && evidence.is_none() {
        return Err(miette!("a rejection needs --evidence: say why"));
    }
    let ttl = parse_ttl(&args.ttl)?;
    let (_, request) = read_request_file(&args.request)?;
    let issued_at = evaluation_time(args.at.as_deref())?;
    let expires_at = Timestamp::from_offset_date_time(
        issued_at.as_offset_date_time() + time::Duration::seconds(ttl),
    )
    .map_err(|e| miette!("--ttl: {e}"))?;
    let decision = if args.reject {
        ApprovalDecision::Reject
    } else {
        ApprovalDecision::Approve
    };
    let record = ApprovalRecord::new(
        request.hash(),
        approver,
        decision,
        issued_at,
        expires_at,
        evidence,
    )
    .signed_by(&key.key);
    println(&record.to_json_line())?;
    Ok(exit::OK)
}

/// `90s`, `30m`, `1h`, `2h30m` → seconds; between 1 s and 24 h.
fn parse_ttl(text: &str) -> miette::Result<i64> {
    let bad = || miette!("--ttl `{text}`: expected a duration like 30m, 1h or 2h30m");
    let mut total: i64 = 0;
    let mut digits = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return Err(bad()),
        };
        let n: i64 = digits.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(bad)?;
        digits.clear();
    }
    if !digits.is_empty() || total <= 0 {
        return Err(bad());
    }
    if total > MAX_APPROVAL_TTL_SECONDS {
        return Err(miette!(
            "--ttl `{text}` is longer than 24h: approvals must not become standing privilege"
        ));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::parse_ttl;

    #[test]
    fn ttl_forms_and_cap() {
        assert_eq!(parse_ttl("90s").ok(), Some(90));
        assert_eq!(parse_ttl("1h").ok(), Some(3600));
        assert_eq!(parse_ttl("2h30m").ok(), Some(9000));
        assert_eq!(parse_ttl("24h").ok(), Some(86400));
        for bad in [
            "",
            "0s",
            "25h",
            "1d",
            "h",
            "10",
            "1h-5m",
            "99999999999999999999h",
        ] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }
}
