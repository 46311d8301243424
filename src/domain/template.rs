//! A tiny renderer for the email templates: `{{name}}` is replaced by the
//! value of that name. Nothing else (no loops, no conditions): the templates
//! are written by us and shipped inside the binary.

/// How inserted values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Control characters become spaces, so a value cannot add lines.
    Text,
    /// HTML-escaped, so a value cannot add markup.
    Html,
}

/// Fills every `{{name}}` of `template` found in `values`; one not found is
/// left as written (the templates' tests look for leftovers).
pub fn render(template: &str, values: &[(&str, &str)], format: Format) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            break;
        };
        let name = &after[..end];
        match values.iter().find(|(key, _)| *key == name) {
            Some((_, value)) => write_value(&mut out, value, format),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

fn write_value(out: &mut String, value: &str, format: Format) {
    for c in value.chars() {
        match (format, c) {
            (_, c) if c.is_control() => out.push(' '),
            (Format::Html, '&') => out.push_str("&amp;"),
            (Format::Html, '<') => out.push_str("&lt;"),
            (Format::Html, '>') => out.push_str("&gt;"),
            (Format::Html, '"') => out.push_str("&quot;"),
            (Format::Html, '\'') => out.push_str("&#39;"),
            (_, c) => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_unknown_ones_left() {
        let out = render(
            "a {{x}} b {{y}} c {{x}}{{",
            &[("x", "1"), ("z", "2")],
            Format::Text,
        );
        assert_eq!(out, "a 1 b {{y}} c 1{{");
    }

    #[test]
    fn html_values_are_escaped_and_text_values_kept_on_their_line() {
        let evil = "<b>\"O'Hara\" & co</b>";
        assert_eq!(
            render("<p>{{v}}</p>", &[("v", evil)], Format::Html),
            "<p>&lt;b&gt;&quot;O&#39;Hara&quot; &amp; co&lt;/b&gt;</p>"
        );
        assert_eq!(
            render("{{v}}", &[("v", "a\nb\r\tc")], Format::Text),
            "a b  c"
        );
        assert_eq!(render("{{v}}", &[("v", evil)], Format::Text), evil);
    }
}
