//! Go's `time` package as Sprig's date functions use it: a `time.Time` object, Go's
//! reference-time layouts for `Format` and `Parse`, `time.Duration` printing and parsing, and
//! Sprig's `now`, `date`, `dateInZone`, `dateModify`, `ago`, `duration`, `durationRound`,
//! `toDate`, `unixEpoch`, `htmlDate` and their aliases.
//!
//! The clock is the render's (`Context::now`), and the compiler's "Local" zone is UTC, as in
//! a container without a time zone. Named zones come from the IANA database bundled at build
//! time, so output does not depend on the machine.

use std::sync::Arc;

use crate::funcs::{Context, Func, FuncError, FuncMap, Timestamp, Ty};
use crate::value::{Object, Value};

const NANOS_PER_SEC: i64 = 1_000_000_000;
const SECOND: i64 = NANOS_PER_SEC;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;

/// A `*time.Location`.
#[derive(Debug, Clone)]
pub enum Location {
    Utc,
    /// Go's `time.Local`; here the machine-independent UTC.
    Local,
    /// `time.FixedZone(name, offset)` as `Parse` fabricates it.
    Fixed {
        name: String,
        offset: i32,
    },
    /// A zone from the IANA database.
    Zone {
        name: String,
        tz: jiff::tz::TimeZone,
    },
}

impl Location {
    /// `time.LoadLocation`; `None` when Go would return an error.
    pub fn load(name: &str) -> Option<Location> {
        match name {
            "" | "UTC" => return Some(Location::Utc),
            "Local" => return Some(Location::Local),
            _ => {}
        }
        if name.contains("..") || name.starts_with('/') || name.starts_with('\\') {
            return None;
        }
        let tz = jiff::tz::TimeZone::get(name).ok()?;
        // Go reads files, so names are case-sensitive.
        if tz.iana_name() != Some(name) {
            return None;
        }
        Some(Location::Zone {
            name: name.to_string(),
            tz,
        })
    }

    /// The zone abbreviation and offset (seconds east of UTC) in effect at `unix`.
    fn lookup(&self, unix: i64) -> (String, i32) {
        match self {
            Location::Utc | Location::Local => ("UTC".into(), 0),
            Location::Fixed { name, offset } => (name.clone(), *offset),
            Location::Zone { tz, .. } => {
                let ts = jiff::Timestamp::from_second(unix).unwrap_or(if unix < 0 {
                    jiff::Timestamp::MIN
                } else {
                    jiff::Timestamp::MAX
                });
                let info = tz.to_offset_info(ts);
                (info.abbreviation().to_string(), info.offset().seconds())
            }
        }
    }

    fn offset(&self, unix: i64) -> i32 {
        match self {
            Location::Utc | Location::Local => 0,
            Location::Fixed { offset, .. } => *offset,
            Location::Zone { .. } => self.lookup(unix).1,
        }
    }

    /// `Location.String()`.
    pub fn name(&self) -> &str {
        match self {
            Location::Utc => "UTC",
            Location::Local => "Local",
            Location::Fixed { name, .. } | Location::Zone { name, .. } => name,
        }
    }
}

/// A `time.Time`: an instant (Unix seconds and nanoseconds) and a location.
#[derive(Debug, Clone)]
pub struct GoTime {
    pub unix: i64,
    pub nanos: u32,
    pub loc: Location,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month 1-12, day) of a day number since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in(month: i64, year: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

const LONG_DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const LONG_MONTHS: [&str; 12] = [
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

/// Broken-down local fields of a time.
struct Fields {
    year: i64,
    month: i64,
    day: i64,
    yday: i64,
    weekday: usize,
    hour: i64,
    min: i64,
    sec: i64,
    abbrev: String,
    offset: i32,
}

impl GoTime {
    pub fn new(unix: i64, nanos: u32, loc: Location) -> GoTime {
        GoTime { unix, nanos, loc }
    }

    /// The render clock's "now" in the Local zone.
    pub fn now(ctx: &dyn Context) -> GoTime {
        let Timestamp {
            unix_seconds,
            nanos,
        } = ctx.now();
        GoTime::new(unix_seconds, nanos.min(999_999_999), Location::Local)
    }

    /// `time.Time{}`: January 1, year 1, 00:00:00 UTC.
    pub fn zero() -> GoTime {
        GoTime::new(days_from_civil(1, 1, 1) * 86_400, 0, Location::Utc)
    }

    pub fn with_loc(&self, loc: Location) -> GoTime {
        GoTime::new(self.unix, self.nanos, loc)
    }

    fn fields(&self) -> Fields {
        let (abbrev, offset) = self.loc.lookup(self.unix);
        let local = self.unix.saturating_add(i64::from(offset));
        let days = local.div_euclid(86_400);
        let sod = local.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Fields {
            year,
            month,
            day,
            yday: days - days_from_civil(year, 1, 1) + 1,
            weekday: usize::try_from((days + 4).rem_euclid(7)).unwrap_or(0),
            hour: sod / 3600,
            min: sod % 3600 / 60,
            sec: sod % 60,
            abbrev,
            offset,
        }
    }

    /// `time.Date` in `loc`, normalizing out-of-range fields as Go does.
    #[allow(clippy::too_many_arguments)]
    pub fn date(
        year: i64,
        month: i64,
        day: i64,
        hour: i64,
        min: i64,
        sec: i64,
        nsec: i64,
        loc: Location,
    ) -> GoTime {
        let m = month - 1;
        let year = year + m.div_euclid(12);
        let month = m.rem_euclid(12) + 1;
        let sec = sec + nsec.div_euclid(NANOS_PER_SEC);
        let nsec = nsec.rem_euclid(NANOS_PER_SEC);
        let days = days_from_civil(year, month, 1) + day - 1;
        let local = days * 86_400 + hour * 3600 + min * 60 + sec;
        let mut offset = loc.offset(local);
        if offset != 0 {
            let again = loc.offset(local - i64::from(offset));
            if again != offset {
                offset = again;
            }
        }
        GoTime::new(
            local - i64::from(offset),
            u32::try_from(nsec).unwrap_or(0),
            loc,
        )
    }

    /// Nanoseconds since the Unix epoch as an `i128` (never overflows).
    fn total_nanos(&self) -> i128 {
        i128::from(self.unix) * i128::from(NANOS_PER_SEC) + i128::from(self.nanos)
    }

    /// `t.Add(d)`.
    pub fn add(&self, d: i64) -> GoTime {
        let mut sec = d / NANOS_PER_SEC;
        let mut nsec = i64::from(self.nanos) + d % NANOS_PER_SEC;
        if nsec >= NANOS_PER_SEC {
            sec += 1;
            nsec -= NANOS_PER_SEC;
        } else if nsec < 0 {
            sec -= 1;
            nsec += NANOS_PER_SEC;
        }
        GoTime::new(
            self.unix.saturating_add(sec),
            u32::try_from(nsec).unwrap_or(0),
            self.loc.clone(),
        )
    }

    /// `t.Sub(u)`, saturating at the `Duration` range.
    pub fn sub(&self, u: &GoTime) -> i64 {
        let d = self.total_nanos() - u.total_nanos();
        i64::try_from(d).unwrap_or(if d < 0 { i64::MIN } else { i64::MAX })
    }

    /// `t.AddDate(years, months, days)`.
    pub fn add_date(&self, years: i64, months: i64, days: i64) -> GoTime {
        let f = self.fields();
        GoTime::date(
            f.year.saturating_add(years),
            f.month.saturating_add(months),
            f.day.saturating_add(days),
            f.hour,
            f.min,
            f.sec,
            i64::from(self.nanos),
            self.loc.clone(),
        )
    }

    /// `t.Format(layout)`.
    pub fn format(&self, layout: &str) -> String {
        let f = self.fields();
        let mut b = String::with_capacity(layout.len() + 10);
        let mut layout = layout;
        while !layout.is_empty() {
            let (prefix, std, suffix) = next_std_chunk(layout);
            b.push_str(prefix);
            let Some(std) = std else { break };
            layout = suffix;
            match std {
                Std::Year => append_int(&mut b, f.year.abs() % 100, 2),
                Std::LongYear => append_int(&mut b, f.year, 4),
                Std::Month => b.push_str(&LONG_MONTHS[month_index(f.month)][..3]),
                Std::LongMonth => b.push_str(LONG_MONTHS[month_index(f.month)]),
                Std::NumMonth => append_int(&mut b, f.month, 0),
                Std::ZeroMonth => append_int(&mut b, f.month, 2),
                Std::WeekDay => b.push_str(&LONG_DAYS[f.weekday][..3]),
                Std::LongWeekDay => b.push_str(LONG_DAYS[f.weekday]),
                Std::Day => append_int(&mut b, f.day, 0),
                Std::UnderDay => {
                    if f.day < 10 {
                        b.push(' ');
                    }
                    append_int(&mut b, f.day, 0);
                }
                Std::ZeroDay => append_int(&mut b, f.day, 2),
                Std::UnderYearDay => {
                    if f.yday < 100 {
                        b.push(' ');
                        if f.yday < 10 {
                            b.push(' ');
                        }
                    }
                    append_int(&mut b, f.yday, 0);
                }
                Std::ZeroYearDay => append_int(&mut b, f.yday, 3),
                Std::Hour => append_int(&mut b, f.hour, 2),
                Std::Hour12 | Std::ZeroHour12 => {
                    let hr = match f.hour % 12 {
                        0 => 12,
                        h => h,
                    };
                    append_int(&mut b, hr, if std == Std::Hour12 { 0 } else { 2 });
                }
                Std::Minute => append_int(&mut b, f.min, 0),
                Std::ZeroMinute => append_int(&mut b, f.min, 2),
                Std::Second => append_int(&mut b, f.sec, 0),
                Std::ZeroSecond => append_int(&mut b, f.sec, 2),
                Std::PM => b.push_str(if f.hour >= 12 { "PM" } else { "AM" }),
                Std::Pm => b.push_str(if f.hour >= 12 { "pm" } else { "am" }),
                Std::Tz(kind) => format_zone(&mut b, kind, f.offset),
                Std::Abbrev => {
                    if f.abbrev.is_empty() {
                        let zone = f.offset / 60;
                        b.push(if zone < 0 { '-' } else { '+' });
                        let zone = i64::from(zone.abs());
                        append_int(&mut b, zone / 60, 2);
                        append_int(&mut b, zone % 60, 2);
                    } else {
                        b.push_str(&f.abbrev);
                    }
                }
                Std::Frac {
                    digits,
                    nines,
                    comma,
                } => {
                    append_nano(&mut b, self.nanos, digits, nines, comma);
                }
            }
        }
        b
    }

    /// `t.String()` (without the monotonic clock reading, which the render clock lacks).
    pub fn to_go_string(&self) -> String {
        self.format("2006-01-02 15:04:05.999999999 -0700 MST")
    }

    fn is_zero(&self) -> bool {
        self.unix == GoTime::zero().unix && self.nanos == 0
    }
}

fn month_index(m: i64) -> usize {
    usize::try_from(m - 1).unwrap_or(0).min(11)
}

/// A numeric zone offset layout element (`-0700`, `Z07:00`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TzKind {
    /// Prints `Z` for UTC (the `Z0700` family).
    iso: bool,
    colon: bool,
    seconds: bool,
    short: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Std {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    Abbrev,
    Tz(TzKind),
    Frac {
        digits: usize,
        nines: bool,
        comma: bool,
    },
}

const fn tz(iso: bool, colon: bool, seconds: bool, short: bool) -> Std {
    Std::Tz(TzKind {
        iso,
        colon,
        seconds,
        short,
    })
}

/// Go's `nextStdChunk`: the text before the first layout element, the element, the rest.
fn next_std_chunk(layout: &str) -> (&str, Option<Std>, &str) {
    let b = layout.as_bytes();
    let at = |i: usize, s: &str| b.len() >= i + s.len() && &b[i..i + s.len()] == s.as_bytes();
    let lower_at = |i: usize| b.get(i).is_some_and(u8::is_ascii_lowercase);
    for i in 0..b.len() {
        let hit = |len: usize, std: Std| Some((&layout[..i], Some(std), &layout[i + len..]));
        let found = match b[i] {
            b'J' if at(i, "Jan") => {
                if at(i, "January") {
                    hit(7, Std::LongMonth)
                } else if !lower_at(i + 3) {
                    hit(3, Std::Month)
                } else {
                    None
                }
            }
            b'M' if b.len() >= i + 3 => {
                if at(i, "Mon") && at(i, "Monday") {
                    hit(6, Std::LongWeekDay)
                } else if at(i, "Mon") && !lower_at(i + 3) {
                    hit(3, Std::WeekDay)
                } else if at(i, "MST") {
                    hit(3, Std::Abbrev)
                } else {
                    None
                }
            }
            b'0' => {
                if b.len() >= i + 2 && (b'1'..=b'6').contains(&b[i + 1]) {
                    let std = [
                        Std::ZeroMonth,
                        Std::ZeroDay,
                        Std::ZeroHour12,
                        Std::ZeroMinute,
                        Std::ZeroSecond,
                        Std::Year,
                    ][usize::from(b[i + 1] - b'1')];
                    hit(2, std)
                } else if at(i, "002") {
                    hit(3, Std::ZeroYearDay)
                } else {
                    None
                }
            }
            b'1' => {
                if at(i, "15") {
                    hit(2, Std::Hour)
                } else {
                    hit(1, Std::NumMonth)
                }
            }
            b'2' => {
                if at(i, "2006") {
                    hit(4, Std::LongYear)
                } else {
                    hit(1, Std::Day)
                }
            }
            b'_' => {
                if at(i, "_2") {
                    if at(i + 1, "2006") {
                        // `_2006` is a literal `_` and then the year.
                        return (&layout[..=i], Some(Std::LongYear), &layout[i + 5..]);
                    }
                    hit(2, Std::UnderDay)
                } else if at(i, "__2") {
                    hit(3, Std::UnderYearDay)
                } else {
                    None
                }
            }
            b'3' => hit(1, Std::Hour12),
            b'4' => hit(1, Std::Minute),
            b'5' => hit(1, Std::Second),
            b'P' if at(i, "PM") => hit(2, Std::PM),
            b'p' if at(i, "pm") => hit(2, Std::Pm),
            b'-' | b'Z' => {
                let iso = b[i] == b'Z';
                let s = if iso { "Z" } else { "-" };
                if at(i, &format!("{s}070000")) {
                    hit(7, tz(iso, false, true, false))
                } else if at(i, &format!("{s}07:00:00")) {
                    hit(9, tz(iso, true, true, false))
                } else if at(i, &format!("{s}0700")) {
                    hit(5, tz(iso, false, false, false))
                } else if at(i, &format!("{s}07:00")) {
                    hit(6, tz(iso, true, false, false))
                } else if at(i, &format!("{s}07")) {
                    hit(3, tz(iso, false, false, true))
                } else {
                    None
                }
            }
            c @ (b'.' | b',') if matches!(b.get(i + 1), Some(b'0' | b'9')) => {
                let ch = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == ch {
                    j += 1;
                }
                if b.get(j).is_some_and(u8::is_ascii_digit) {
                    None
                } else {
                    hit(
                        j - i,
                        Std::Frac {
                            digits: j - (i + 1),
                            nines: ch == b'9',
                            comma: c == b',',
                        },
                    )
                }
            }
            _ => None,
        };
        if let Some(found) = found {
            return found;
        }
    }
    (layout, None, "")
}

/// Go's `appendInt`: decimal, zero-padded to `width` digits.
fn append_int(b: &mut String, x: i64, width: usize) {
    if x < 0 {
        b.push('-');
    }
    let digits = x.unsigned_abs().to_string();
    for _ in digits.len()..width {
        b.push('0');
    }
    b.push_str(&digits);
}

fn append_nano(b: &mut String, nanos: u32, digits: usize, nines: bool, comma: bool) {
    if nines && (digits == 0 || nanos == 0) {
        return;
    }
    let dot = if comma { ',' } else { '.' };
    let mut s = format!("{nanos:09}");
    s.truncate(digits.min(9));
    if nines {
        while s.ends_with('0') {
            s.pop();
        }
        if s.is_empty() {
            return;
        }
    }
    b.push(dot);
    b.push_str(&s);
}

fn format_zone(b: &mut String, kind: TzKind, offset: i32) {
    if offset == 0 && kind.iso {
        b.push('Z');
        return;
    }
    let mut zone = offset / 60;
    let mut abs = offset;
    if zone < 0 {
        b.push('-');
        zone = -zone;
        abs = -abs;
    } else {
        b.push('+');
    }
    append_int(b, i64::from(zone / 60), 2);
    if kind.colon {
        b.push(':');
    }
    if !kind.short {
        append_int(b, i64::from(zone % 60), 2);
    }
    if kind.seconds {
        if kind.colon {
            b.push(':');
        }
        append_int(b, i64::from(abs % 60), 2);
    }
}

/// `time`'s own `quote` (used in its error messages).
fn time_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if (c as u32) < 0x20 || !c.is_ascii() {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{byte:02x}"));
            }
        } else {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out.push('"');
    out
}

fn parse_error(layout: &str, value: &str, elem: &str, value_elem: &str) -> String {
    format!(
        "parsing time {} as {}: cannot parse {} as {}",
        time_quote(value),
        time_quote(layout),
        time_quote(value_elem),
        time_quote(elem)
    )
}

fn parse_error_msg(value: &str, message: &str) -> String {
    format!("parsing time {}{message}", time_quote(value))
}

/// Go's `getnum`: one or two digits (exactly two when `fixed`).
fn getnum(s: &str, fixed: bool) -> Option<(i64, &str)> {
    let b = s.as_bytes();
    if !b.first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    if !b.get(1).is_some_and(u8::is_ascii_digit) {
        if fixed {
            return None;
        }
        return Some((i64::from(b[0] - b'0'), &s[1..]));
    }
    Some((
        i64::from(b[0] - b'0') * 10 + i64::from(b[1] - b'0'),
        &s[2..],
    ))
}

fn getnum3(s: &str, fixed: bool) -> Option<(i64, &str)> {
    let b = s.as_bytes();
    let mut n = 0;
    let mut i = 0;
    while i < 3 && b.get(i).is_some_and(u8::is_ascii_digit) {
        n = n * 10 + i64::from(b[i] - b'0');
        i += 1;
    }
    if i == 0 || (fixed && i != 3) {
        return None;
    }
    Some((n, &s[i..]))
}

/// Go's `skip`: the layout's literal text, with runs of spaces matching runs of spaces.
fn skip<'v>(mut value: &'v str, mut prefix: &str) -> Option<&'v str> {
    while !prefix.is_empty() {
        if prefix.starts_with(' ') {
            if !value.is_empty() && !value.starts_with(' ') {
                return None;
            }
            prefix = prefix.trim_start_matches(' ');
            value = value.trim_start_matches(' ');
            continue;
        }
        if value.is_empty() || value.as_bytes()[0] != prefix.as_bytes()[0] {
            return None;
        }
        // Byte-wise, as Go; keep slicing on character boundaries.
        let len = prefix.chars().next().map_or(1, char::len_utf8);
        if !value.is_char_boundary(len) || value.get(..len) != prefix.get(..len) {
            return None;
        }
        prefix = &prefix[len..];
        value = &value[len..];
    }
    Some(value)
}

fn lookup_name<'v>(table: &[&str], short: bool, value: &'v str) -> Option<(i64, &'v str)> {
    for (i, name) in table.iter().enumerate() {
        let name = if short { &name[..3] } else { name };
        if value.len() >= name.len()
            && value.is_char_boundary(name.len())
            && value[..name.len()].eq_ignore_ascii_case(name)
        {
            return Some((i64::try_from(i).unwrap_or(0), &value[name.len()..]));
        }
    }
    None
}

/// Go's `atoi` on a short digit string (optional sign).
fn atoi(s: &str) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: i64 = digits.parse().ok()?;
    Some(if neg { -v } else { v })
}

fn parse_nanoseconds(value: &str, nbytes: usize) -> Result<i64, ()> {
    if !value.starts_with(['.', ',']) {
        return Err(());
    }
    let nbytes = nbytes.min(10);
    let ns = atoi(value.get(1..nbytes).ok_or(())?).ok_or(())?;
    let mut ns = ns;
    for _ in 0..(10 - nbytes) {
        ns *= 10;
    }
    Ok(ns)
}

/// Go's `parseTimeZone`: the length of a zone abbreviation at the start of `value`.
fn parse_time_zone(value: &str) -> Option<usize> {
    let b = value.as_bytes();
    if b.len() < 3 {
        return None;
    }
    if value.starts_with("ChST") || value.starts_with("MeST") {
        return Some(4);
    }
    if let Some(rest) = value.strip_prefix("GMT") {
        return Some(3 + parse_signed_offset(rest));
    }
    if b[0] == b'+' || b[0] == b'-' {
        let n = parse_signed_offset(value);
        return (n > 0).then_some(n);
    }
    let upper = b
        .iter()
        .take(6)
        .take_while(|c| c.is_ascii_uppercase())
        .count();
    match upper {
        5 if b[4] == b'T' => Some(5),
        4 if b[3] == b'T' || value.starts_with("WITA") => Some(4),
        3 => Some(3),
        _ => None,
    }
}

fn parse_signed_offset(value: &str) -> usize {
    let b = value.as_bytes();
    if !matches!(b.first(), Some(b'+' | b'-')) {
        return 0;
    }
    let digits = b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || digits > 18 {
        return 0;
    }
    match value[1..=digits].parse::<u64>() {
        Ok(x) if x <= 23 => 1 + digits,
        _ => 0,
    }
}

/// `time.ParseInLocation(layout, value, Local)` (Sprig's `toDate`).
pub fn parse(layout: &str, value: &str) -> Result<GoTime, String> {
    let (alayout, avalue) = (layout, value);
    let mut layout = layout;
    let mut value = value;
    let mut range_err = "";
    let (mut am, mut pm) = (false, false);
    let (mut year, mut month, mut day, mut yday) = (0i64, -1i64, -1i64, -1i64);
    let (mut hour, mut min, mut sec, mut nsec) = (0i64, 0i64, 0i64, 0i64);
    let mut utc_zone = false;
    let mut zone_offset: Option<i64> = None;
    let mut zone_name = String::new();
    loop {
        let (prefix, std, suffix) = next_std_chunk(layout);
        let stdstr = &layout[prefix.len()..layout.len() - suffix.len()];
        value = skip(value, prefix).ok_or_else(|| parse_error(alayout, avalue, prefix, value))?;
        let Some(std) = std else {
            if !value.is_empty() {
                return Err(parse_error_msg(
                    avalue,
                    &format!(": extra text: {}", time_quote(value)),
                ));
            }
            break;
        };
        layout = suffix;
        let hold = value;
        let ok: Option<()> = (|| {
            match std {
                Std::Year => {
                    let p = value.get(..2)?;
                    value = &value[2..];
                    year = atoi(p)?;
                    year += if year >= 69 { 1900 } else { 2000 };
                }
                Std::LongYear => {
                    if value.len() < 4 || !value.as_bytes()[0].is_ascii_digit() {
                        return None;
                    }
                    let p = value.get(..4)?;
                    value = &value[4..];
                    year = atoi(p)?;
                }
                Std::Month | Std::LongMonth => {
                    let (m, rest) = lookup_name(&LONG_MONTHS, std == Std::Month, value)?;
                    month = m + 1;
                    value = rest;
                }
                Std::NumMonth | Std::ZeroMonth => {
                    let (m, rest) = getnum(value, std == Std::ZeroMonth)?;
                    month = m;
                    value = rest;
                    if !(1..=12).contains(&month) {
                        range_err = "month";
                    }
                }
                Std::WeekDay | Std::LongWeekDay => {
                    let (_, rest) = lookup_name(&LONG_DAYS, std == Std::WeekDay, value)?;
                    value = rest;
                }
                Std::Day | Std::UnderDay | Std::ZeroDay => {
                    if std == Std::UnderDay && value.starts_with(' ') {
                        value = &value[1..];
                    }
                    let (d, rest) = getnum(value, std == Std::ZeroDay)?;
                    day = d;
                    value = rest;
                }
                Std::UnderYearDay | Std::ZeroYearDay => {
                    for _ in 0..2 {
                        if std == Std::UnderYearDay && value.starts_with(' ') {
                            value = &value[1..];
                        }
                    }
                    let (d, rest) = getnum3(value, std == Std::ZeroYearDay)?;
                    yday = d;
                    value = rest;
                }
                Std::Hour => {
                    let (h, rest) = getnum(value, false)?;
                    hour = h;
                    value = rest;
                    if !(0..24).contains(&hour) {
                        range_err = "hour";
                    }
                }
                Std::Hour12 | Std::ZeroHour12 => {
                    let (h, rest) = getnum(value, std == Std::ZeroHour12)?;
                    hour = h;
                    value = rest;
                    if !(0..=12).contains(&hour) {
                        range_err = "hour";
                    }
                }
                Std::Minute | Std::ZeroMinute => {
                    let (m, rest) = getnum(value, std == Std::ZeroMinute)?;
                    min = m;
                    value = rest;
                    if !(0..60).contains(&min) {
                        range_err = "minute";
                    }
                }
                Std::Second | Std::ZeroSecond => {
                    let (s, rest) = getnum(value, std == Std::ZeroSecond)?;
                    sec = s;
                    value = rest;
                    if !(0..60).contains(&sec) {
                        range_err = "second";
                        return Some(());
                    }
                    // A fractional second in the value that the layout does not mention.
                    let b = value.as_bytes();
                    if b.len() >= 2 && (b[0] == b'.' || b[0] == b',') && b[1].is_ascii_digit() {
                        if let (_, Some(Std::Frac { .. }), _) = next_std_chunk(layout) {
                            return Some(());
                        }
                        let mut n = 2;
                        while n < b.len() && b[n].is_ascii_digit() {
                            n += 1;
                        }
                        nsec = parse_nanoseconds(value, n).ok()?;
                        value = &value[n..];
                    }
                }
                Std::PM | Std::Pm => {
                    let p = value.get(..2)?;
                    value = &value[2..];
                    let (upper, lower) = if std == Std::PM {
                        ("PM", "AM")
                    } else {
                        ("pm", "am")
                    };
                    if p == upper {
                        pm = true;
                    } else if p == lower {
                        am = true;
                    } else {
                        return None;
                    }
                }
                Std::Tz(kind) => {
                    if kind.iso && value.starts_with('Z') {
                        value = &value[1..];
                        utc_zone = true;
                        return Some(());
                    }
                    let b = value.as_bytes();
                    let (sign, hh, mm, ss, rest);
                    if kind.colon && !kind.seconds {
                        if b.len() < 6 || b[3] != b':' {
                            return None;
                        }
                        (sign, hh, mm, ss, rest) = (
                            value.get(..1)?,
                            value.get(1..3)?,
                            value.get(4..6)?,
                            "00",
                            value.get(6..)?,
                        );
                    } else if kind.short {
                        if b.len() < 3 {
                            return None;
                        }
                        (sign, hh, mm, ss, rest) = (
                            value.get(..1)?,
                            value.get(1..3)?,
                            "00",
                            "00",
                            value.get(3..)?,
                        );
                    } else if kind.colon && kind.seconds {
                        if b.len() < 9 || b[3] != b':' || b[6] != b':' {
                            return None;
                        }
                        (sign, hh, mm, ss, rest) = (
                            value.get(..1)?,
                            value.get(1..3)?,
                            value.get(4..6)?,
                            value.get(7..9)?,
                            value.get(9..)?,
                        );
                    } else if kind.seconds {
                        if b.len() < 7 {
                            return None;
                        }
                        (sign, hh, mm, ss, rest) = (
                            value.get(..1)?,
                            value.get(1..3)?,
                            value.get(3..5)?,
                            value.get(5..7)?,
                            value.get(7..)?,
                        );
                    } else {
                        if b.len() < 5 {
                            return None;
                        }
                        (sign, hh, mm, ss, rest) = (
                            value.get(..1)?,
                            value.get(1..3)?,
                            value.get(3..5)?,
                            "00",
                            value.get(5..)?,
                        );
                    }
                    value = rest;
                    let hr = getnum(hh, true)?.0;
                    let mi = getnum(mm, true)?.0;
                    let se = getnum(ss, true)?.0;
                    if hr > 24 {
                        range_err = "time zone offset hour";
                    }
                    if mi > 60 {
                        range_err = "time zone offset minute";
                    }
                    if se > 60 {
                        range_err = "time zone offset second";
                    }
                    let off = (hr * 60 + mi) * 60 + se;
                    zone_offset = Some(match sign {
                        "+" => off,
                        "-" => -off,
                        _ => return None,
                    });
                }
                Std::Abbrev => {
                    if value.starts_with("UTC") {
                        utc_zone = true;
                        value = &value[3..];
                        return Some(());
                    }
                    let n = parse_time_zone(value)?;
                    zone_name = value.get(..n)?.to_string();
                    value = &value[n..];
                }
                Std::Frac { digits, nines, .. } => {
                    if !nines {
                        let ndigit = 1 + digits;
                        if value.len() < ndigit {
                            return None;
                        }
                        nsec = parse_nanoseconds(value, ndigit).ok()?;
                        value = value.get(ndigit..)?;
                    } else {
                        let b = value.as_bytes();
                        if b.len() < 2 || !(b[0] == b'.' || b[0] == b',') || !b[1].is_ascii_digit()
                        {
                            return Some(());
                        }
                        let mut i = 0;
                        while i + 1 < b.len() && b[i + 1].is_ascii_digit() {
                            i += 1;
                        }
                        nsec = parse_nanoseconds(value, 1 + i).ok()?;
                        value = &value[1 + i..];
                    }
                }
            }
            Some(())
        })();
        if !range_err.is_empty() {
            return Err(parse_error_msg(
                avalue,
                &format!(": {range_err} out of range"),
            ));
        }
        if ok.is_none() {
            return Err(parse_error(alayout, avalue, stdstr, hold));
        }
    }
    if pm && hour < 12 {
        hour += 12;
    } else if am && hour == 12 {
        hour = 0;
    }
    if yday >= 0 {
        let mut d = 0;
        let mut m = 0;
        if is_leap(year) {
            if yday == 31 + 29 {
                m = 2;
                d = 29;
            } else if yday > 31 + 29 {
                yday -= 1;
            }
        }
        if !(1..=365).contains(&yday) {
            return Err(parse_error_msg(avalue, ": day-of-year out of range"));
        }
        if m == 0 {
            m = (yday - 1) / 31 + 1;
            if days_before(m + 1) < yday {
                m += 1;
            }
            d = yday - days_before(m);
        }
        if month >= 0 && month != m {
            return Err(parse_error_msg(
                avalue,
                ": day-of-year does not match month",
            ));
        }
        month = m;
        if day >= 0 && day != d {
            return Err(parse_error_msg(avalue, ": day-of-year does not match day"));
        }
        day = d;
    } else {
        if month < 0 {
            month = 1;
        }
        if day < 0 {
            day = 1;
        }
    }
    if day < 1 || day > days_in(month, year) {
        return Err(parse_error_msg(avalue, ": day out of range"));
    }
    if utc_zone {
        return Ok(GoTime::date(
            year,
            month,
            day,
            hour,
            min,
            sec,
            nsec,
            Location::Utc,
        ));
    }
    if let Some(offset) = zone_offset {
        let t = GoTime::date(year, month, day, hour, min, sec, nsec, Location::Utc);
        let t = GoTime::new(t.unix - offset, t.nanos, Location::Utc);
        // The Local zone (UTC) matches only a zero offset without another name.
        if offset == 0 && (zone_name.is_empty() || zone_name == "UTC") {
            return Ok(t.with_loc(Location::Local));
        }
        return Ok(t.with_loc(Location::Fixed {
            name: zone_name,
            offset: i32::try_from(offset).unwrap_or(0),
        }));
    }
    if !zone_name.is_empty() {
        let t = GoTime::date(year, month, day, hour, min, sec, nsec, Location::Utc);
        let mut offset = 0;
        if zone_name.len() > 3 && zone_name.starts_with("GMT") {
            offset = atoi(&zone_name[3..]).unwrap_or(0) * 3600;
        }
        return Ok(t.with_loc(Location::Fixed {
            name: zone_name,
            offset: i32::try_from(offset).unwrap_or(0),
        }));
    }
    Ok(GoTime::date(
        year,
        month,
        day,
        hour,
        min,
        sec,
        nsec,
        Location::Local,
    ))
}

/// Days before the first of month `m` (1-13) in a non-leap year.
fn days_before(m: i64) -> i64 {
    const BEFORE: [i64; 13] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];
    BEFORE[usize::try_from(m - 1).unwrap_or(0).min(12)]
}

/// `time.Duration.String()`.
pub fn duration_string(d: i64) -> String {
    let neg = d < 0;
    let mut u = d.unsigned_abs();
    let mut out = String::new();
    if u < SECOND as u64 {
        let (prec, unit) = if u == 0 {
            return "0s".into();
        } else if u < 1_000 {
            (0, "ns")
        } else if u < 1_000_000 {
            (3, "µs")
        } else {
            (6, "ms")
        };
        let (frac, int) = fmt_frac(u, prec);
        out.push_str(&int.to_string());
        out.push_str(&frac);
        out.push_str(unit);
    } else {
        let (frac, secs) = fmt_frac(u, 9);
        u = secs;
        let s = u % 60;
        u /= 60;
        let mut tail = format!("{s}{frac}s");
        if u > 0 {
            tail = format!("{}m{tail}", u % 60);
            u /= 60;
            if u > 0 {
                tail = format!("{u}h{tail}");
            }
        }
        out.push_str(&tail);
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// Go's `fmtFrac`: the fraction of `v / 10^prec` without trailing zeros (and without a dot
/// when zero), and the integer part.
fn fmt_frac(mut v: u64, prec: usize) -> (String, u64) {
    let mut digits = Vec::new();
    let mut print = false;
    for _ in 0..prec {
        let digit = v % 10;
        print = print || digit != 0;
        if print {
            digits.push(char::from(b'0' + digit as u8));
        }
        v /= 10;
    }
    if print {
        digits.push('.');
    }
    digits.reverse();
    (digits.into_iter().collect(), v)
}

/// `time.ParseDuration`.
pub fn parse_duration(orig: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", time_quote(orig));
    let mut s = orig;
    let mut neg = false;
    if let Some(c) = s.chars().next()
        && (c == '-' || c == '+')
    {
        neg = c == '-';
        s = &s[1..];
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut d: u64 = 0;
    while !s.is_empty() {
        let b = s.as_bytes();
        if !(b[0] == b'.' || b[0].is_ascii_digit()) {
            return Err(invalid());
        }
        // Integer part.
        let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut v: u64 = 0;
        for &c in &b[..n] {
            if v > (1u64 << 63) / 10 {
                return Err(invalid());
            }
            v = v * 10 + u64::from(c - b'0');
            if v > 1u64 << 63 {
                return Err(invalid());
            }
        }
        let pre = n > 0;
        s = &s[n..];
        // Fraction.
        let mut f: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut post = false;
        if let Some(rest) = s.strip_prefix('.') {
            s = rest;
            let b = s.as_bytes();
            let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
            let mut overflow = false;
            for &c in &b[..n] {
                if overflow {
                    continue;
                }
                if f > ((1u64 << 63) - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let y = f * 10 + u64::from(c - b'0');
                if y > 1u64 << 63 {
                    overflow = true;
                    continue;
                }
                f = y;
                scale *= 10.0;
            }
            post = n > 0;
            s = &s[n..];
        }
        if !pre && !post {
            return Err(invalid());
        }
        // Unit.
        let i = s
            .bytes()
            .take_while(|&c| c != b'.' && !c.is_ascii_digit())
            .count();
        if i == 0 {
            return Err(format!(
                "time: missing unit in duration {}",
                time_quote(orig)
            ));
        }
        let u = &s[..i];
        s = &s[i..];
        let unit: u64 = match u {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => SECOND as u64,
            "m" => MINUTE as u64,
            "h" => HOUR as u64,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    time_quote(u),
                    time_quote(orig)
                ));
            }
        };
        if v > (1u64 << 63) / unit {
            return Err(invalid());
        }
        v *= unit;
        if f > 0 {
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > 1u64 << 63 {
                return Err(invalid());
            }
        }
        d += v;
        if d > 1u64 << 63 {
            return Err(invalid());
        }
    }
    if neg {
        return Ok((d as i64).wrapping_neg());
    }
    i64::try_from(d).map_err(|_| invalid())
}

/// `Duration.Round(m)`.
fn round_duration(d: i64, m: i64) -> i64 {
    if m <= 0 {
        return d;
    }
    let mut r = d % m;
    let less_than_half = |x: i64, y: i64| (x as u64).wrapping_add(x as u64) < y as u64;
    if d < 0 {
        r = -r;
        if less_than_half(r, m) {
            return d + r;
        }
        let d1 = d.wrapping_sub(m).wrapping_add(r);
        if d1 < d {
            return d1;
        }
        return i64::MIN;
    }
    if less_than_half(r, m) {
        return d - r;
    }
    let d1 = d.wrapping_add(m).wrapping_sub(r);
    if d1 > d {
        return d1;
    }
    i64::MAX
}

/// A Go integer type with a `String()` method (`time.Month`, `time.Weekday`,
/// `time.Duration`).
#[derive(Debug)]
pub struct NamedInt {
    type_name: &'static str,
    kind: &'static str,
    value: i64,
    text: String,
}

impl NamedInt {
    fn value(type_name: &'static str, kind: &'static str, value: i64, text: String) -> Value {
        Value::Object(Arc::new(NamedInt {
            type_name,
            kind,
            value,
            text,
        }))
    }

    pub fn duration(d: i64) -> Value {
        NamedInt::value("time.Duration", "int64", d, duration_string(d))
    }
}

impl Object for NamedInt {
    fn type_name(&self) -> &str {
        self.type_name
    }

    fn kind_name(&self) -> &'static str {
        self.kind
    }

    fn truthy(&self) -> bool {
        self.value != 0
    }

    fn call_method(&self, name: &str, _args: &[Value]) -> Option<Result<Value, FuncError>> {
        match name {
            "String" => Some(Ok(Value::from(self.text.as_str()))),
            _ if self.type_name == "time.Duration" => {
                let d = self.value;
                let v = match name {
                    "Nanoseconds" => Value::Int64(d),
                    "Microseconds" => Value::Int64(d / 1_000),
                    "Milliseconds" => Value::Int64(d / 1_000_000),
                    "Seconds" => Value::Float((d / SECOND) as f64 + (d % SECOND) as f64 / 1e9),
                    "Minutes" => Value::Float((d / MINUTE) as f64 + (d % MINUTE) as f64 / 6e10),
                    "Hours" => Value::Float((d / HOUR) as f64 + (d % HOUR) as f64 / 3.6e12),
                    _ => return None,
                };
                Some(Ok(v))
            }
            _ => None,
        }
    }

    fn go_string(&self) -> String {
        self.text.clone()
    }

    fn to_data(&self) -> Option<Value> {
        Some(Value::Int(self.value))
    }
}

/// A `time.Time` value in a template.
#[derive(Debug)]
pub struct TimeObject(pub GoTime);

impl TimeObject {
    pub fn value(t: GoTime) -> Value {
        Value::Object(Arc::new(TimeObject(t)))
    }
}

/// The name of the private method that exposes a time's exact state to this module (no
/// template can spell it: identifiers cannot contain NUL).
const STATE_METHOD: &str = "\0state";

impl GoTime {
    fn encode_state(&self) -> String {
        let loc = match &self.loc {
            Location::Utc => "U".to_string(),
            Location::Local => "L".to_string(),
            Location::Fixed { name, offset } => format!("F{offset} {name}"),
            Location::Zone { name, .. } => format!("Z{name}"),
        };
        format!("{} {} {loc}", self.unix, self.nanos)
    }

    fn decode_state(s: &str) -> Option<GoTime> {
        let mut parts = s.splitn(3, ' ');
        let unix = parts.next()?.parse().ok()?;
        let nanos = parts.next()?.parse().ok()?;
        let loc = parts.next()?;
        let loc = match loc.split_at_checked(1)? {
            ("U", _) => Location::Utc,
            ("L", _) => Location::Local,
            ("F", rest) => {
                let (offset, name) = rest.split_once(' ')?;
                Location::Fixed {
                    name: name.to_string(),
                    offset: offset.parse().ok()?,
                }
            }
            ("Z", name) => Location::load(name)?,
            _ => return None,
        };
        Some(GoTime::new(unix, nanos, loc))
    }
}

/// The `time.Time` behind a value, if it is one.
pub fn as_time(v: &Value) -> Option<GoTime> {
    match v {
        Value::Object(o) if o.type_name() == "time.Time" => {
            let state = o.call_method(STATE_METHOD, &[])?.ok()?;
            GoTime::decode_state(state.as_str()?)
        }
        _ => None,
    }
}

fn type_error(expected: &str, got: Option<&Value>) -> FuncError {
    match got {
        None | Some(Value::Nil) => FuncError::new(format!("invalid value; expected {expected}")),
        Some(v) => FuncError::new(format!(
            "wrong type for value; expected {expected}; got {}",
            v.type_name()
        )),
    }
}

fn time_arg(args: &[Value], i: usize) -> Result<GoTime, FuncError> {
    let v = args.get(i);
    v.and_then(as_time)
        .ok_or_else(|| type_error("time.Time", v))
}

fn int_method_arg(args: &[Value], i: usize, ty: &str) -> Result<i64, FuncError> {
    match args.get(i) {
        Some(Value::Int(n)) => Ok(*n),
        Some(Value::Object(o)) if o.type_name() == ty => match o.to_data() {
            Some(Value::Int(n)) => Ok(n),
            _ => Err(type_error(ty, args.get(i))),
        },
        other => Err(type_error(ty, other)),
    }
}

impl Object for TimeObject {
    fn type_name(&self) -> &str {
        "time.Time"
    }

    fn call_method(&self, name: &str, args: &[Value]) -> Option<Result<Value, FuncError>> {
        let t = &self.0;
        let f = || t.fields();
        let v = match name {
            STATE_METHOD => Value::from(t.encode_state()),
            "Format" => match args.first() {
                Some(Value::String(layout)) => Value::from(t.format(layout)),
                other => return Some(Err(type_error("string", other))),
            },
            "String" => Value::from(t.to_go_string()),
            "Unix" => Value::Int64(t.unix),
            "UnixMilli" => Value::Int64(i64::try_from(t.total_nanos() / 1_000_000).unwrap_or(0)),
            "UnixMicro" => Value::Int64(i64::try_from(t.total_nanos() / 1_000).unwrap_or(0)),
            "UnixNano" => Value::Int64(t.total_nanos() as i64),
            "UTC" => TimeObject::value(t.with_loc(Location::Utc)),
            "Local" => TimeObject::value(t.with_loc(Location::Local)),
            "Location" => Value::from(t.loc.name()),
            "Year" => Value::Int(f().year),
            "Month" => {
                let m = f().month;
                NamedInt::value("time.Month", "int", m, LONG_MONTHS[month_index(m)].into())
            }
            "Day" => Value::Int(f().day),
            "Hour" => Value::Int(f().hour),
            "Minute" => Value::Int(f().min),
            "Second" => Value::Int(f().sec),
            "Nanosecond" => Value::Int(i64::from(t.nanos)),
            "YearDay" => Value::Int(f().yday),
            "Weekday" => {
                let w = f().weekday;
                NamedInt::value(
                    "time.Weekday",
                    "int",
                    i64::try_from(w).unwrap_or(0),
                    LONG_DAYS[w].into(),
                )
            }
            "IsZero" => Value::Bool(t.is_zero()),
            "Add" => match int_method_arg(args, 0, "time.Duration") {
                Ok(d) => TimeObject::value(t.add(d)),
                Err(e) => return Some(Err(e)),
            },
            "AddDate" => {
                let mut n = [0i64; 3];
                for (i, slot) in n.iter_mut().enumerate() {
                    match args.get(i) {
                        Some(Value::Int(x)) => *slot = *x,
                        other => return Some(Err(type_error("int", other))),
                    }
                }
                TimeObject::value(t.add_date(n[0], n[1], n[2]))
            }
            "Sub" | "Before" | "After" | "Equal" | "Compare" => {
                let u = match time_arg(args, 0) {
                    Ok(u) => u,
                    Err(e) => return Some(Err(e)),
                };
                let d = t.total_nanos() - u.total_nanos();
                match name {
                    "Sub" => NamedInt::duration(t.sub(&u)),
                    "Before" => Value::Bool(d < 0),
                    "After" => Value::Bool(d > 0),
                    "Equal" => Value::Bool(d == 0),
                    _ => Value::Int(d.signum() as i64),
                }
            }
            "Truncate" | "Round" => {
                let m = match int_method_arg(args, 0, "time.Duration") {
                    Ok(m) => m,
                    Err(e) => return Some(Err(e)),
                };
                if m <= 0 {
                    TimeObject::value(t.clone())
                } else {
                    // Relative to the zero time, as Go does.
                    let since_zero = t.total_nanos() - GoTime::zero().total_nanos();
                    let r = since_zero.rem_euclid(i128::from(m));
                    let mut delta = -r;
                    if name == "Round" && r + r >= i128::from(m) {
                        delta = i128::from(m) - r;
                    }
                    let total = t.total_nanos() + delta;
                    let unix = total.div_euclid(i128::from(NANOS_PER_SEC));
                    let nanos = total.rem_euclid(i128::from(NANOS_PER_SEC));
                    TimeObject::value(GoTime::new(
                        i64::try_from(unix).unwrap_or(t.unix),
                        u32::try_from(nanos).unwrap_or(0),
                        t.loc.clone(),
                    ))
                }
            }
            _ => return None,
        };
        Some(Ok(v))
    }

    fn go_string(&self) -> String {
        self.0.to_go_string()
    }

    fn to_data(&self) -> Option<Value> {
        Some(Value::from(
            self.0.format("2006-01-02T15:04:05.999999999Z07:00"),
        ))
    }
}

/// Sprig's `dateInZone` argument handling: a time, Unix seconds (int), else now.
fn date_value(ctx: &dyn Context, v: Option<&Value>) -> GoTime {
    match v {
        Some(Value::Int(n) | Value::Int64(n)) => GoTime::new(*n, 0, Location::Local),
        Some(v @ Value::Object(_)) => as_time(v).unwrap_or_else(|| GoTime::now(ctx)),
        _ => GoTime::now(ctx),
    }
}

fn date_in_zone(ctx: &dyn Context, layout: &str, date: Option<&Value>, zone: &str) -> Value {
    let t = date_value(ctx, date);
    let loc = Location::load(zone).unwrap_or(Location::Utc);
    Value::from(t.with_loc(loc).format(layout))
}

fn str_arg(args: &[Value], i: usize) -> &str {
    args.get(i).and_then(Value::as_str).unwrap_or("")
}

/// Sprig's `durationRound`.
fn duration_round(d: i64) -> String {
    let u = d.unsigned_abs();
    const YEAR: u64 = HOUR as u64 * 24 * 365;
    const MONTH: u64 = HOUR as u64 * 24 * 30;
    const DAY: u64 = HOUR as u64 * 24;
    let units: [(u64, &str); 6] = [
        (YEAR, "y"),
        (MONTH, "mo"),
        (DAY, "d"),
        (HOUR as u64, "h"),
        (MINUTE as u64, "m"),
        (SECOND as u64, "s"),
    ];
    for (unit, suffix) in units {
        if u > unit {
            return format!("{}{suffix}", u / unit);
        }
    }
    "0s".into()
}

pub fn register(map: &mut FuncMap) {
    use Ty::{Any, String as S};
    map.insert(
        "now",
        Func::new(&[], None, |ctx, _| Ok(TimeObject::value(GoTime::now(ctx)))),
    );
    map.insert(
        "date",
        Func::new(&[S, Any], None, |ctx, a| {
            Ok(date_in_zone(ctx, str_arg(a, 0), a.get(1), "Local"))
        }),
    );
    let in_zone = Func::new(&[S, Any, S], None, |ctx, a| {
        Ok(date_in_zone(ctx, str_arg(a, 0), a.get(1), str_arg(a, 2)))
    });
    map.insert("dateInZone", in_zone.clone());
    map.insert("date_in_zone", in_zone);
    map.insert(
        "htmlDate",
        Func::new(&[Any], None, |ctx, a| {
            Ok(date_in_zone(ctx, "2006-01-02", a.first(), "Local"))
        }),
    );
    map.insert(
        "htmlDateInZone",
        Func::new(&[Any, S], None, |ctx, a| {
            Ok(date_in_zone(ctx, "2006-01-02", a.first(), str_arg(a, 1)))
        }),
    );
    let modify = Func::pure(&[S, Any], None, |a| {
        let t = time_arg(a, 1)?;
        Ok(TimeObject::value(match parse_duration(str_arg(a, 0)) {
            Ok(d) => t.add(d),
            Err(_) => t,
        }))
    });
    map.insert("dateModify", modify.clone());
    map.insert("date_modify", modify);
    let must_modify = Func::pure(&[S, Any], None, |a| {
        let t = time_arg(a, 1)?;
        let d = parse_duration(str_arg(a, 0)).map_err(FuncError::new)?;
        Ok(TimeObject::value(t.add(d)))
    });
    map.insert("mustDateModify", must_modify.clone());
    map.insert("must_date_modify", must_modify);
    map.insert(
        "ago",
        Func::new(&[Any], None, |ctx, a| {
            let t = date_value(ctx, a.first());
            let since = GoTime::now(ctx).sub(&t);
            Ok(Value::from(duration_string(round_duration(since, SECOND))))
        }),
    );
    map.insert(
        "duration",
        Func::pure(&[Any], None, |a| {
            // Sprig accepts a string or an int64. A template's Int is Go's `int` (literals,
            // `len`), which falls to Sprig's default case: Helm prints `0s` for
            // `duration 3661` (Go quirk, confirmed by the conformance charts).
            let n = match a.first() {
                Some(Value::String(s)) => s.parse::<i64>().unwrap_or(0),
                Some(Value::Int64(n)) => *n,
                _ => 0,
            };
            Ok(Value::from(duration_string(n.wrapping_mul(SECOND))))
        }),
    );
    map.insert(
        "durationRound",
        Func::new(&[Any], None, |ctx, a| {
            let d = match a.first() {
                Some(Value::String(s)) => parse_duration(s).unwrap_or(0),
                // An `int` is not Sprig's `int64` case (see `duration`).
                Some(Value::Int64(n)) => *n,
                Some(v @ Value::Object(_)) => match as_time(v) {
                    Some(t) => GoTime::now(ctx).sub(&t),
                    None => 0,
                },
                _ => 0,
            };
            Ok(Value::from(duration_round(d)))
        }),
    );
    map.insert(
        "toDate",
        Func::pure(&[S, S], None, |a| {
            let t = parse(str_arg(a, 0), str_arg(a, 1)).unwrap_or_else(|_| GoTime::zero());
            Ok(TimeObject::value(t))
        }),
    );
    map.insert(
        "mustToDate",
        Func::pure(&[S, S], None, |a| {
            parse(str_arg(a, 0), str_arg(a, 1))
                .map(TimeObject::value)
                .map_err(FuncError::new)
        }),
    );
    map.insert(
        "unixEpoch",
        Func::pure(&[Any], None, |a| {
            Ok(Value::from(time_arg(a, 0)?.unix.to_string()))
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::super::testing::{call, i, s, show};
    use super::*;

    fn check(name: &str, args: &[Value], want: &str) {
        assert_eq!(show(name, args).as_deref(), Ok(want), "{name} {args:?}");
    }

    fn check_err(name: &str, args: &[Value], want: &str) {
        assert_eq!(show(name, args), Err(want.to_string()), "{name} {args:?}");
    }

    fn at(unix: i64, nanos: u32) -> Value {
        TimeObject::value(GoTime::new(unix, nanos, Location::Utc))
    }

    /// The standalone clock: 2023-11-14 22:13:20 UTC, a Tuesday.
    fn now() -> Value {
        call("now", &[]).unwrap()
    }

    /// 2009-11-10 23:00:00 UTC.
    const PLAYGROUND: i64 = 1_257_894_000;
    /// Sprig's test time: 13 Jun 19 20:39:39 GMT.
    const SPRIG: i64 = 1_560_458_379;

    #[test]
    fn formats_reference_layouts() {
        let t = at(PLAYGROUND, 0);
        let cases = [
            ("Mon Jan _2 15:04:05 2006", "Tue Nov 10 23:00:00 2009"),
            (
                "Mon Jan _2 15:04:05 MST 2006",
                "Tue Nov 10 23:00:00 UTC 2009",
            ),
            (
                "Mon, 02 Jan 2006 15:04:05 -0700",
                "Tue, 10 Nov 2009 23:00:00 +0000",
            ),
            ("02 Jan 06 15:04 MST", "10 Nov 09 23:00 UTC"),
            ("2006-01-02T15:04:05Z07:00", "2009-11-10T23:00:00Z"),
            (
                "2006-01-02T15:04:05.999999999Z07:00",
                "2009-11-10T23:00:00Z",
            ),
            ("2006-01-02T15:04:05.000Z07:00", "2009-11-10T23:00:00.000Z"),
            ("3:04PM", "11:00PM"),
            ("Monday, January 2, 2006", "Tuesday, November 10, 2009"),
            ("__2 002", "314 314"),
            ("3 03 4 04 5 05 pm PM", "11 11 0 00 0 00 pm PM"),
            ("06 2006 _2006", "09 2009 _2009"),
            ("1 01 2 02 _2", "11 11 10 10 10"),
            (
                "-07 -07:00:00 Z07 Z0700 -070000",
                "+00 +00:00:00 Z Z +000000",
            ),
            // `Mon` before a lower-case letter is not a weekday: Go quirk.
            ("Janx Mondays Month", "Janx Tuesdays Month"),
            (
                "2006-01-02 15:04:05.999999999 -0700 MST",
                "2009-11-10 23:00:00 +0000 UTC",
            ),
            ("no layout here", "no layout here"),
        ];
        for (layout, want) in cases {
            check("date", &[s(layout), t.clone()], want);
        }
        let t = at(PLAYGROUND, 123_456_789);
        for (layout, want) in [
            ("15:04:05.000", "23:00:00.123"),
            ("15:04:05,000", "23:00:00,123"),
            ("05.999999", "00.123456"),
            ("05.0000000000", "00.123456789"),
            ("05.9", "00.1"),
        ] {
            check("date", &[s(layout), t.clone()], want);
        }
        check("date", &[s(".999"), at(PLAYGROUND, 100_000_000)], ".1");
        check("date", &[s(".999"), at(PLAYGROUND, 0)], "");
    }

    #[test]
    fn go_string_and_methods() {
        assert_eq!(
            show("toDate", &[s("2006"), s("2020")]).unwrap(),
            "2020-01-01 00:00:00 +0000 UTC"
        );
        let Value::Object(n) = now() else { panic!() };
        assert_eq!(n.go_string(), "2023-11-14 22:13:20 +0000 UTC");
        assert_eq!(n.type_name(), "time.Time");
        let m = |name: &str, args: &[Value]| n.call_method(name, args).unwrap().unwrap();
        let v = |name: &str| crate::gofmt::format_value(&m(name, &[]));
        assert_eq!(v("Year"), "2023");
        assert_eq!(v("Month"), "November");
        assert_eq!(v("Day"), "14");
        assert_eq!(v("Weekday"), "Tuesday");
        assert_eq!(v("YearDay"), "318");
        assert_eq!(v("Hour"), "22");
        assert_eq!(v("Unix"), "1700000000");
        assert_eq!(v("UnixMilli"), "1700000000000");
        assert_eq!(v("UTC"), "2023-11-14 22:13:20 +0000 UTC");
        assert_eq!(v("IsZero"), "false");
        assert_eq!(
            crate::gofmt::format_value(&m("Format", &[s("Jan 2")])),
            "Nov 14"
        );
        assert_eq!(
            crate::gofmt::format_value(&m("Add", &[i(-HOUR)])),
            "2023-11-14 21:13:20 +0000 UTC"
        );
        assert_eq!(
            crate::gofmt::format_value(&m("AddDate", &[i(0), i(3), i(20)])),
            "2024-03-05 22:13:20 +0000 UTC"
        );
        let earlier = at(1_699_990_000, 500);
        assert_eq!(
            crate::gofmt::format_value(&m("Sub", std::slice::from_ref(&earlier))),
            "2h46m39.9999995s"
        );
        assert_eq!(v("String"), "2023-11-14 22:13:20 +0000 UTC");
        assert_eq!(m("After", &[earlier]), Value::Bool(true));
        assert_eq!(
            crate::gofmt::format_value(&m("Truncate", &[i(HOUR)])),
            "2023-11-14 22:00:00 +0000 UTC"
        );
        assert_eq!(n.to_data(), Some(s("2023-11-14T22:13:20Z")));
        assert!(n.call_method("Nope", &[]).is_none());
        assert_eq!(
            n.call_method("Add", &[s("1h")]).unwrap(),
            Err(FuncError::new(
                "wrong type for value; expected time.Duration; got string"
            ))
        );
    }

    #[test]
    fn sprig_date_tests() {
        check(
            "date",
            &[
                s("02/01/2006"),
                call("toDate", &[s("2006-01-02"), s("2017-12-31")]).unwrap(),
            ],
            "31/12/2017",
        );
        let t = call(
            "toDate",
            &[s("02 Jan 06 15:04:05 MST"), s("13 Jun 19 20:39:39 GMT")],
        )
        .unwrap();
        check("unixEpoch", std::slice::from_ref(&t), "1560458379");
        let layout = s("02 Jan 06 15:04 -0700");
        for date in [t.clone(), i(SPRIG)] {
            check(
                "date_in_zone",
                &[layout.clone(), date.clone(), s("UTC")],
                "13 Jun 19 20:39 +0000",
            );
            check(
                "dateInZone",
                &[layout.clone(), date.clone(), s("foobar")],
                "13 Jun 19 20:39 +0000",
            );
        }
        // Anything else is now.
        check(
            "dateInZone",
            &[layout.clone(), s(""), s("UTC")],
            "14 Nov 23 22:13 +0000",
        );
        check("date", &[s("2006"), Value::Float(1e9)], "2023");
        check("htmlDate", &[i(0)], "1970-01-01");
        check("htmlDate", &[now()], "2023-11-14");
        check("htmlDateInZone", &[now(), s("Asia/Tokyo")], "2023-11-15");
    }

    #[test]
    fn named_zones() {
        let layout = s("2006-01-02 15:04:05 MST -07:00");
        check(
            "dateInZone",
            &[layout.clone(), i(SPRIG), s("America/New_York")],
            "2019-06-13 16:39:39 EDT -04:00",
        );
        check(
            "dateInZone",
            &[layout.clone(), i(PLAYGROUND), s("America/New_York")],
            "2009-11-10 18:00:00 EST -05:00",
        );
        check(
            "dateInZone",
            &[layout.clone(), i(SPRIG), s("Asia/Kolkata")],
            "2019-06-14 02:09:39 IST +05:30",
        );
        check(
            "dateInZone",
            &[layout.clone(), i(SPRIG), s("Local")],
            "2019-06-13 20:39:39 UTC +00:00",
        );
        check(
            "dateInZone",
            &[layout.clone(), i(SPRIG), s("")],
            "2019-06-13 20:39:39 UTC +00:00",
        );
        // Zone names are case-sensitive file names in Go.
        check(
            "dateInZone",
            &[layout.clone(), i(SPRIG), s("america/new_york")],
            "2019-06-13 20:39:39 UTC +00:00",
        );
        check(
            "dateInZone",
            &[layout, i(SPRIG), s("../etc/passwd")],
            "2019-06-13 20:39:39 UTC +00:00",
        );
    }

    #[test]
    fn parsing() {
        let cases = [
            (
                "2006-01-02 15:04 -0700",
                "2020-01-01 10:00 +0200",
                "2020-01-01 10:00:00 +0200 +0200",
            ),
            (
                "2006-01-02 15:04 -0700",
                "2020-01-01 10:00 +0000",
                "2020-01-01 10:00:00 +0000 UTC",
            ),
            (
                "2006-01-02 MST",
                "2020-01-01 PST",
                "2020-01-01 00:00:00 +0000 PST",
            ),
            // Go keeps the instant as UTC and only attaches the zone: Go quirk.
            (
                "2006-01-02 MST",
                "2020-01-01 GMT+3",
                "2020-01-01 03:00:00 +0300 GMT+3",
            ),
            (
                "2006-01-02T15:04:05Z07:00",
                "2020-01-01T10:00:00Z",
                "2020-01-01 10:00:00 +0000 UTC",
            ),
            (
                "2006-01-02T15:04:05Z07:00",
                "2020-01-01T10:00:00.5-01:30",
                "2020-01-01 10:00:00.5 -0130 -0130",
            ),
            (
                "Jan _2 3:04PM",
                "feb  3 12:30AM",
                "0000-02-03 00:30:00 +0000 UTC",
            ),
            ("2006-002", "2020-060", "2020-02-29 00:00:00 +0000 UTC"),
            ("06-01-02", "69-01-02", "1969-01-02 00:00:00 +0000 UTC"),
            ("06-01-02", "68-01-02", "2068-01-02 00:00:00 +0000 UTC"),
            (
                "15:04:05.000",
                "10:00:00.123",
                "0000-01-01 10:00:00.123 +0000 UTC",
            ),
            (
                "Monday 2006",
                "tuesday 2020",
                "2020-01-01 00:00:00 +0000 UTC",
            ),
        ];
        for (layout, value, want) in cases {
            check("mustToDate", &[s(layout), s(value)], want);
        }
        let errors = [
            (
                "2006-01-02",
                "2017-13-01",
                r#"parsing time "2017-13-01": month out of range"#,
            ),
            (
                "2006-01-02",
                "x",
                r#"parsing time "x" as "2006-01-02": cannot parse "x" as "2006""#,
            ),
            (
                "2006-01-02",
                "2017-12-31x",
                r#"parsing time "2017-12-31x": extra text: "x""#,
            ),
            (
                "2006-01-02",
                "2017-02-30",
                r#"parsing time "2017-02-30": day out of range"#,
            ),
            (
                "2006-01-02",
                "2017/02/03",
                r#"parsing time "2017/02/03" as "2006-01-02": cannot parse "/02/03" as "-""#,
            ),
            (
                "15:04",
                "25:00",
                r#"parsing time "25:00": hour out of range"#,
            ),
        ];
        for (layout, value, want) in errors {
            check_err("mustToDate", &[s(layout), s(value)], want);
        }
        check(
            "toDate",
            &[s("2006"), s("bad")],
            "0001-01-01 00:00:00 +0000 UTC",
        );
    }

    #[test]
    fn modify_and_durations() {
        check(
            "dateModify",
            &[s("-1.5h"), now()],
            "2023-11-14 20:43:20 +0000 UTC",
        );
        check(
            "date_modify",
            &[s("bad"), now()],
            "2023-11-14 22:13:20 +0000 UTC",
        );
        check(
            "mustDateModify",
            &[s("90s"), now()],
            "2023-11-14 22:14:50 +0000 UTC",
        );
        check_err(
            "mustDateModify",
            &[s("bad"), now()],
            r#"time: invalid duration "bad""#,
        );
        check_err(
            "must_date_modify",
            &[s("1d"), now()],
            r#"time: unknown unit "d" in duration "1d""#,
        );
        check_err(
            "mustDateModify",
            &[s("1"), now()],
            r#"time: missing unit in duration "1""#,
        );
        check_err(
            "dateModify",
            &[s("1h"), s("now")],
            "wrong type for value; expected time.Time; got string",
        );
        check("unixEpoch", &[now()], "1700000000");
        check_err(
            "unixEpoch",
            &[Value::Nil],
            "invalid value; expected time.Time",
        );

        for (secs, want) in [
            ("61", "1m1s"),
            ("3600", "1h0m0s"),
            ("93784", "26h3m4s"),
            ("x", "0s"),
            ("-5", "-5s"),
        ] {
            check("duration", &[s(secs)], want);
        }
        // Go quirk: an int is not an int64 to Sprig.
        check("duration", &[i(90)], "0s");
        check("durationRound", &[i(90)], "0s");
        check("duration", &[Value::Float(90.0)], "0s");
        // Sprig's `case int64` (`duration (int64 3661)`), which an `int` misses.
        check("duration", &[Value::Int64(3661)], "1h1m1s");
        check("duration", &[Value::Int(3661)], "0s");
        check("durationRound", &[Value::Int64(3_661_000_000_000)], "1h");
        check("durationRound", &[Value::Int(3_661_000_000_000)], "0s");
        for (d, want) in [
            ("2h5s", "2h"),
            ("24h5s", "1d"),
            ("2400h5s", "3mo"),
            ("9000h", "1y"),
            ("-3m1s", "3m"),
            ("1s", "0s"),
            ("bad", "0s"),
        ] {
            check("durationRound", &[s(d)], want);
        }
        check(
            "durationRound",
            &[at(1_700_000_000 - 3 * 86_400 - 5, 0)],
            "3d",
        );
        check("ago", &[at(1_700_000_000 - 125, 0)], "2m5s");
        check(
            "ago",
            &[i(1_700_000_000 - (2 * 3600 + 34 * 60 + 17))],
            "2h34m17s",
        );
        check("ago", &[at(1_700_000_005, 0)], "-5s");
        check("ago", &[at(1_700_000_000 - 2, 600_000_000)], "1s");
        check("ago", &[s("x")], "0s");
    }

    #[test]
    fn duration_strings() {
        let cases = [
            ("0", "0s"),
            ("1ns", "1ns"),
            ("1.1µs", "1.1µs"),
            ("2.2ms", "2.2ms"),
            ("3.3s", "3.3s"),
            ("4m5s", "4m5s"),
            ("4m5.001s", "4m5.001s"),
            ("5h6m7.001s", "5h6m7.001s"),
            ("8m0.000000001s", "8m0.000000001s"),
            ("-1.5h", "-1h30m0s"),
            (".5m", "30s"),
            ("1h15m30.918273645s", "1h15m30.918273645s"),
            ("2562047h47m16.854775807s", "2562047h47m16.854775807s"),
        ];
        for (input, want) in cases {
            let d = parse_duration(input).unwrap();
            assert_eq!(duration_string(d), want, "{input}");
        }
        assert_eq!(duration_string(i64::MIN), "-2562047h47m16.854775808s");
        assert!(parse_duration("9223372036854775808ns").is_err());
        assert_eq!(parse_duration("-9223372036854775808ns"), Ok(i64::MIN));
        assert!(parse_duration("").is_err());
        assert!(parse_duration(".s").is_err());
    }
}
