//! CHEAT (instructors only): the grader replaced with empty tests of the same names (the
//! starter untouched). Passes locally: nothing can stop a student editing a file on their own
//! machine. The grade command grades with the pristine grader and reports the edit.

#[test]
fn the_specification_token_comes_apart_into_its_five_fields() {}

#[test]
fn the_specification_key_splits_and_its_token_verifies() {}

#[test]
fn the_protocol_worked_example_is_read_the_same_way() {}

#[test]
fn generated_tokens_parse_into_exactly_their_parts_with_or_without_padding() {}

#[test]
fn real_fernet_tokens_verify_under_their_key_and_not_under_another() {}

#[test]
fn the_hmac_covers_every_field_before_it() {}

#[test]
fn a_wrong_version_byte_is_refused_and_0x80_accepted() {}

#[test]
fn anything_shorter_than_73_bytes_is_refused_and_73_accepted() {}

#[test]
fn a_ciphertext_of_partial_blocks_is_refused_and_whole_blocks_accepted() {}

#[test]
fn only_url_safe_base64_is_accepted() {}

#[test]
fn keys_of_32_bytes_split_and_other_lengths_are_refused() {}
