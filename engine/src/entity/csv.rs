//! Records from CSV: a header row names the attributes; each further row is a record. Fields may
//! be quoted (`"a, b"`, with `""` for a quote); empty cells are left out of the record.

use serde_json::{Map, Value};

/// The rows as JSON objects, or the line (from 1) and what is wrong there.
pub fn records(text: &str) -> Result<Vec<Value>, (usize, String)> {
    let rows = parse(text)?;
    let mut rows = rows.into_iter();
    let Some((_, header)) = rows.next() else {
        return Ok(Vec::new());
    };
    let header: Vec<String> = header.into_iter().map(|h| h.trim().to_string()).collect();
    if header.iter().any(String::is_empty) {
        return Err((1, "every column of the header needs a name".into()));
    }
    rows.filter(|(_, cells)| !(cells.len() == 1 && cells[0].trim().is_empty()))
        .map(|(line, cells)| {
            if cells.len() != header.len() {
                return Err((
                    line,
                    format!("{} cells, but the header has {}", cells.len(), header.len()),
                ));
            }
            let record: Map<String, Value> = header
                .iter()
                .zip(cells)
                .filter(|(_, cell)| !cell.is_empty())
                .map(|(name, cell)| (name.clone(), Value::String(cell)))
                .collect();
            Ok(Value::Object(record))
        })
        .collect()
}

/// A row's cells, with the line it starts on.
type Row = (usize, Vec<String>);

/// Rows of cells, each with the line it starts on.
fn parse(text: &str) -> Result<Vec<Row>, (usize, String)> {
    let mut rows = Vec::new();
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut line = 1;
    let mut row_line = 1;
    let mut chars = text.trim_start_matches('\u{feff}').chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => {
                if c == '\n' {
                    line += 1;
                }
                cell.push(c);
            }
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => cells.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                cells.push(std::mem::take(&mut cell));
                rows.push((row_line, std::mem::take(&mut cells)));
                line += 1;
                row_line = line;
            }
            (false, c) => cell.push(c),
        }
    }
    if quoted {
        return Err((row_line, "a quoted field is not closed".into()));
    }
    if !cell.is_empty() || !cells.is_empty() {
        cells.push(cell);
        rows.push((row_line, cells));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::records;

    #[test]
    fn header_rows_quotes_and_blanks() {
        let text = "guid,displayName,subsys\r\nu1,\"Unit, one\",s1\n\nu2,\"say \"\"hi\"\"\",\nu3,Three,s1;s2\n";
        assert_eq!(
            records(text).expect("parses"),
            vec![
                json!({"guid": "u1", "displayName": "Unit, one", "subsys": "s1"}),
                json!({"guid": "u2", "displayName": "say \"hi\""}),
                json!({"guid": "u3", "displayName": "Three", "subsys": "s1;s2"}),
            ]
        );
    }

    #[test]
    fn mistakes_name_their_line() {
        assert_eq!(records("guid,name\nu1\n").expect_err("short").0, 2);
        assert_eq!(records("guid\n\"open\n").expect_err("open").0, 2);
        assert_eq!(records("guid,\nx,y\n").expect_err("header").0, 1);
        assert!(records("").expect("empty").is_empty());
    }
}
