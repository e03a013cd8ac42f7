//! Whether a passphrase for `keygen --seal` is too weak to publish a sealed keyfile under.
//!
//! A sealed keyfile may be put on a course website (README), so its passphrase faces offline
//! guessing: scrypt makes each guess cost about a tenth of a second, which stops a random
//! 12-character passphrase but not `Password2024!`. The rule is small and explainable rather
//! than a full strength estimator (a crate such as zxcvbn would add a large dictionary to every
//! build for one keygen option):
//! - at least [`MIN_CHARS`] characters;
//! - at least [`MIN_DISTINCT`] different characters (`aaaaaaaaaaaa`, `abababababab`);
//! - not one of the most common passwords, once case, spaces, look-alike digits (`0` for `o`)
//!   and digits or symbols added at either end are set aside (`Passw0rd2024!` is `password`);
//!   nor only digits and symbols, nor a common one repeated (`qwertyqwerty`).
//!
//! `keygen --seal --weak-passphrase` overrides it, for a passphrase chosen with care elsewhere.

/// The fewest characters accepted.
pub const MIN_CHARS: usize = 12;

/// The fewest different characters accepted.
pub const MIN_DISTINCT: usize = 5;

/// Among the most common passwords of the public breach lists, as letters only (after the
/// normalisation above), plus a few a class would think of first.
const COMMON: &[&str] = &[
    "password",
    "passwort",
    "motdepasse",
    "qwerty",
    "qwertyuiop",
    "qwertz",
    "azerty",
    "asdf",
    "asdfgh",
    "asdfghjkl",
    "zxcvbn",
    "zxcvbnm",
    "qazwsx",
    "qweasd",
    "abc",
    "abcd",
    "abcdef",
    "abcdefg",
    "abcdefgh",
    "abcdefghijkl",
    "iloveyou",
    "admin",
    "administrator",
    "welcome",
    "letmein",
    "monkey",
    "dragon",
    "football",
    "baseball",
    "soccer",
    "hockey",
    "sunshine",
    "princess",
    "master",
    "shadow",
    "superman",
    "batman",
    "trustno",
    "login",
    "starwars",
    "whatever",
    "hello",
    "helloworld",
    "freedom",
    "secret",
    "topsecret",
    "changeme",
    "default",
    "michael",
    "jennifer",
    "charlie",
    "jordan",
    "hunter",
    "ranger",
    "killer",
    "mustang",
    "access",
    "flower",
    "lovely",
    "pokemon",
    "minecraft",
    "samsung",
    "google",
    "internet",
    "computer",
    "student",
    "students",
    "teacher",
    "school",
    "class",
    "classkey",
    "chat",
    "fernchat",
    "fernet",
    "passphrase",
    "mypassword",
    "mypassphrase",
    "test",
    "testing",
    "guest",
    "root",
    "user",
    "ilovechat",
    "correcthorsebatterystaple",
    "blink",
    "aaa",
    "qwe",
];

/// Why `phrase` is too weak to seal a key under, or `None` if it passes the rule above.
pub fn weakness(phrase: &str) -> Option<String> {
    let chars = phrase.chars().count();
    if chars < MIN_CHARS {
        return Some(format!(
            "it has {chars} characters; use at least {MIN_CHARS} (four ordinary words in a \
             row are easier to remember and stronger)"
        ));
    }
    let mut distinct: Vec<char> = phrase.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < MIN_DISTINCT {
        return Some(format!(
            "it uses only {} different characters; use at least {MIN_DISTINCT}",
            distinct.len()
        ));
    }
    let core = core_letters(phrase);
    if core.is_empty() {
        return Some("it is only digits and symbols, which are guessed first".to_owned());
    }
    if let Some(common) = COMMON.iter().find(|c| is_repeat_of(&core, c)) {
        return Some(format!(
            "it is the common password {common:?} with changes every guesser tries first \
             (case, spaces, 0 for o, digits or symbols at the ends)"
        ));
    }
    None
}

/// The phrase lowered, without spaces and other separators, without the digits and symbols
/// at either end, and with look-alike digits inside read as the letters they stand for.
fn core_letters(phrase: &str) -> String {
    let lowered: String = phrase
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '_' | '.'))
        .flat_map(char::to_lowercase)
        .collect();
    lowered
        .trim_matches(|c: char| !c.is_alphabetic())
        .chars()
        .map(|c| match c {
            '0' => 'o',
            '1' | '!' => 'i',
            '3' => 'e',
            '4' | '@' => 'a',
            '5' | '$' => 's',
            '7' => 't',
            other => other,
        })
        .collect()
}

/// Whether `text` is `unit` once or several times in a row.
fn is_repeat_of(text: &str, unit: &str) -> bool {
    !unit.is_empty()
        && text.len().is_multiple_of(unit.len())
        && text == unit.repeat(text.len() / unit.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_repetitive_and_common_passphrases_are_weak() {
        for phrase in [
            "abc",
            "hunter2",
            "aaaaaaaaaaaaaaaa",
            "abababababababab",
            "123456789012",
            "Password2024!",
            "Passw0rd 2024!!",
            "P@ssw0rd-123456",
            "qwertyqwertyqwerty",
            "correct horse battery staple",
            "1234 iloveyou 5678",
        ] {
            assert!(weakness(phrase).is_some(), "{phrase:?} passed");
        }
    }

    #[test]
    fn long_varied_passphrases_pass() {
        for phrase in [
            "a passphrase for the test",
            "purple otter drinks tea",
            "Xk9#mQ2$vL7p",
            "mon chat aime la pluie",
        ] {
            assert_eq!(weakness(phrase), None, "{phrase:?}");
        }
    }
}
