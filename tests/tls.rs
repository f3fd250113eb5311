//! `gcnn garbler --tls-cert/--tls-key` and `gcnn evaluator --tls-ca`: a TLS session gives
//! the plaintext model's class; an untrusted or misnamed certificate, and a plain client
//! of a TLS garbler (or the reverse), fail with one clear line. Certificates are made at
//! test time with `rcgen`.
//!
//! Tests that need the trained model print `SKIPPED: models/lenet not found` without it.

mod common;

use std::path::{Path, PathBuf};

use common::lenet::{assert_predicts, evaluator, garbler, model, one_error_line, test_set};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

/// A CA in `dir`: returns the path of its certificate, and its issuer.
fn ca(dir: &Path, name: &str) -> (PathBuf, CertifiedIssuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let path = dir.join(format!("{name}.pem"));
    std::fs::write(&path, issuer.pem()).unwrap();
    (path, issuer)
}

/// A server certificate for `names` signed by `issuer`: the paths of its PEM chain and key.
fn server_cert(
    dir: &Path,
    names: &[&str],
    issuer: &CertifiedIssuer<'static, KeyPair>,
) -> (PathBuf, PathBuf) {
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|&n| n.to_owned()).collect();
    let cert = CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, issuer)
        .unwrap();
    let (cert_path, key_path) = (dir.join("server.pem"), dir.join("server.key"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (cert_path, key_path)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `gcnn garbler` for one session over TLS with the given certificate and key.
fn tls_garbler(
    cert: &Path,
    key: &Path,
) -> (
    std::process::Child,
    String,
    std::io::Lines<std::io::BufReader<std::process::ChildStderr>>,
) {
    garbler(
        1,
        &["--tls-cert", s(cert), "--tls-key", s(key), "--timeout", "5"],
    )
}

#[test]
fn a_tls_session_equals_plaintext_and_bad_certificates_or_plain_peers_fail_clearly() {
    let Some(model) = model() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (ca_path, issuer) = ca(dir.path(), "ca");
    let (other_ca, _) = ca(dir.path(), "other-ca");
    let (cert, key) = server_cert(dir.path(), &["127.0.0.1"], &issuer);
    let (mut child, addr, lines) = tls_garbler(&cert, &key);

    // A CA that did not sign the garbler's certificate.
    let err = one_error_line(&evaluator(&addr, 0, &["--tls-ca", s(&other_ca)]));
    assert!(
        err.contains("TLS failed: invalid peer certificate") && err.contains("UnknownIssuer"),
        "{err}"
    );
    // A plain-TCP client.
    let err = one_error_line(&evaluator(&addr, 0, &[]));
    assert!(err.contains("answered in TLS"), "{err}");

    // The right CA: the class of the plaintext model.
    let index = 21;
    let out = evaluator(&addr, index, &["--tls-ca", s(&ca_path)]);
    let expected = model.predict(&test_set().images[index]);
    assert_predicts(&out, expected);
    assert!(common::exit_within(&mut child).success());
    let log: Vec<String> = lines.map(Result::unwrap).collect();
    assert_eq!(
        log.iter()
            .filter(|l| l.contains("handshake failed"))
            .count(),
        2,
        "{log:?}"
    );
    assert!(log.iter().any(|l| l.contains(": ok in ")), "{log:?}");
}

/// A garbler whose certificate names another host is refused; a TLS client of a plain
/// garbler fails with a TLS error.
#[test]
fn a_misnamed_certificate_or_a_plain_garbler_fails_clearly() {
    let Some(_) = model() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (ca_path, issuer) = ca(dir.path(), "ca");
    let (cert, key) = server_cert(dir.path(), &["example.org"], &issuer);
    let (mut child, addr, _lines) = tls_garbler(&cert, &key);
    let err = one_error_line(&evaluator(&addr, 0, &["--tls-ca", s(&ca_path)]));
    assert!(
        err.contains("TLS failed: invalid peer certificate") && err.contains("not valid for name"),
        "{err}"
    );
    let _ = child.kill();
    common::exit_within(&mut child);

    let (mut plain, addr, _lines) = garbler(1, &["--timeout", "5"]);
    let err = one_error_line(&evaluator(&addr, 0, &["--tls-ca", s(&ca_path)]));
    assert!(err.contains("TLS failed"), "{err}");
    let _ = plain.kill();
    common::exit_within(&mut plain);
}

/// Pinning: the garbler's own self-signed certificate given as `--tls-ca` is trusted for
/// exactly that certificate, and the session gives the plaintext class.
#[test]
fn a_pinned_self_signed_certificate_is_trusted() {
    let Some(model) = model() else { return };
    let dir = tempfile::tempdir().unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_path, key_path) = (dir.path().join("self.pem"), dir.path().join("self.key"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let (mut child, addr, _lines) = tls_garbler(&cert_path, &key_path);
    let index = 34;
    let out = evaluator(&addr, index, &["--tls-ca", s(&cert_path)]);
    assert_predicts(&out, model.predict(&test_set().images[index]));
    assert!(common::exit_within(&mut child).success());
}
