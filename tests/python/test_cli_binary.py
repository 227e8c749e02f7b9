"""The `shoal` command line itself: config generation and checking, the data
directory layout, `shoal env`, graceful shutdown and restart."""

import configparser
import re
import shlex
import signal
import stat

import pytest

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None


# ---------------------------------------------------------------- config


@pytest.fixture(scope="module")
def generated_config(shoal_cli):
    out = shoal_cli("generate-config").stdout
    assert re.search(r"^version\s*=\s*1\s*$", out, re.MULTILINE), out
    return out


def test_generate_config_is_commented_toml(generated_config):
    assert any(l.lstrip().startswith("#") for l in generated_config.splitlines())
    if tomllib is not None:
        assert tomllib.loads(generated_config)["version"] == 1


def test_check_config_accepts_generated_file(shoal_cli, generated_config, tmp_path):
    path = tmp_path / "shoal.toml"
    path.write_text(generated_config)
    proc = shoal_cli("check-config", path)
    assert proc.returncode == 0


def _expect_rejected(shoal_cli, path):
    proc = shoal_cli("check-config", path, check=False)
    assert proc.returncode != 0, "check-config accepted %s:\n%s" % (path, path.read_text())
    assert proc.stderr.strip(), "check-config failed without a message on stderr"
    return proc


def test_check_config_rejects_unknown_key(shoal_cli, generated_config, tmp_path):
    # Put the unknown key before any [table] so it is a top-level key.
    path = tmp_path / "unknown.toml"
    path.write_text("surely_not_a_shoal_setting = true\n" + generated_config)
    proc = _expect_rejected(shoal_cli, path)
    assert "surely_not_a_shoal_setting" in proc.stderr


def test_check_config_rejects_wrong_version(shoal_cli, generated_config, tmp_path):
    path = tmp_path / "version.toml"
    path.write_text(re.sub(r"^version\s*=\s*1\s*$", "version = 999", generated_config,
                           count=1, flags=re.MULTILINE))
    _expect_rejected(shoal_cli, path)


def test_check_config_rejects_broken_toml(shoal_cli, tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("version = = 1\n[unclosed\n")
    _expect_rejected(shoal_cli, path)


def test_check_config_missing_file(shoal_cli, tmp_path):
    proc = shoal_cli("check-config", tmp_path / "does-not-exist.toml", check=False)
    assert proc.returncode != 0
    assert proc.stderr.strip()


# ---------------------------------------------------------------- data dir, env


def test_first_start_creates_data_dir_and_credentials(shoal_factory, tmp_path):
    data_dir = tmp_path / "fresh" / "data"
    assert not data_dir.exists()
    srv = shoal_factory(data_dir)
    assert data_dir.is_dir()

    creds = data_dir / "credentials"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    cp = configparser.ConfigParser()
    cp.read(creds)
    assert cp["default"]["aws_access_key_id"] == srv.access_key
    assert cp["default"]["aws_secret_access_key"] == srv.secret_key


def test_first_start_creates_root_ca_and_server_certificate(shoal_factory, tmp_path):
    # DESIGN.md §1: the root CA devices trust and a server certificate for the configured
    # host names are made on first start; the private keys are readable by the owner only.
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    data_dir = tmp_path / "pki" / "data"
    shoal_factory(data_dir)
    for key in ("ca.key", "server.key"):
        assert stat.S_IMODE((data_dir / key).stat().st_mode) == 0o600
    ca = x509.load_pem_x509_certificate((data_dir / "ca.pem").read_bytes())
    server = x509.load_pem_x509_certificate((data_dir / "server.pem").read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert server.issuer == ca.subject
    ca.public_key().verify(server.signature, server.tbs_certificate_bytes, ec.ECDSA(server.signature_hash_algorithm))
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)


def test_ready_output(shoal_factory):
    srv = shoal_factory()
    # The api line announces the same URL as the export line.
    assert srv.api_line is not None, srv.stdout_lines
    fields = srv.api_line.split()
    assert fields[0] == "api" and fields[2:] == ["iot,", "iot-data,", "iot-jobs-data,", "s3,", "logs,", "monitoring,", "iotsecuretunneling"]
    assert fields[1] == srv.endpoint
    # The console's line names its URL on the API port.
    console = next(l for l in srv.stdout_lines if l.strip().startswith("console "))
    assert console.split()[1] == srv.endpoint + "/console"
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", srv.endpoint)
    assert srv.endpoint != "http://127.0.0.1:0"
    assert srv.region == "us-east-1"
    assert set(srv.exports) >= {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID",
                                "AWS_SECRET_ACCESS_KEY", "AWS_REGION"}
    # The export line (the readiness signal) follows the api line.
    export_idx = next(i for i, l in enumerate(srv.stdout_lines) if l.startswith("export "))
    assert srv.stdout_lines.index(srv.api_line) < export_idx


def test_env_prints_the_export_line(shoal_factory, shoal_cli):
    srv = shoal_factory()
    out = shoal_cli("env", "--data", srv.data_dir).stdout
    line = next(l for l in out.splitlines() if l.startswith("export "))
    exports = dict(w.split("=", 1) for w in shlex.split(line)[1:])
    assert exports == srv.exports

    # After a restart `env` reports the new server's endpoint.
    assert srv.stop() == 0
    srv2 = shoal_factory(srv.data_dir)
    out = shoal_cli("env", "--data", srv.data_dir).stdout
    line = next(l for l in out.splitlines() if l.startswith("export "))
    exports = dict(w.split("=", 1) for w in shlex.split(line)[1:])
    assert exports["AWS_ENDPOINT_URL"] == srv2.endpoint
    assert exports["AWS_ACCESS_KEY_ID"] == srv.access_key


# ---------------------------------------------------------------- lifecycle


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_graceful_shutdown_exits_zero(shoal_factory, sig):
    srv = shoal_factory()
    srv.client().list_things(maxResults=1)
    assert srv.stop(sig) == 0, srv.describe_output()


def test_restart_keeps_data_and_key(shoal_factory, unique, tmp_path):
    data_dir = tmp_path / "persist"
    srv = shoal_factory(data_dir)
    c = srv.client()
    ttype, group, thing = unique("pt"), unique("pg"), unique("pth")
    c.create_thing_type(thingTypeName=ttype, thingTypeProperties={"thingTypeDescription": "d"},
                        tags=[{"Key": "k", "Value": "v"}])
    c.create_thing_group(thingGroupName=group)
    created = c.create_thing(thingName=thing, thingTypeName=ttype,
                             attributePayload={"attributes": {"a": "1"}})
    c.update_thing(thingName=thing, attributePayload={"attributes": {"b": "2"}, "merge": True})
    c.add_thing_to_thing_group(thingGroupName=group, thingName=thing)
    west_arn = srv.client(region="eu-west-1").create_thing(thingName=thing)["thingArn"]
    old_key, old_secret = srv.access_key, srv.secret_key
    assert srv.stop() == 0

    srv2 = shoal_factory(data_dir)
    assert (srv2.access_key, srv2.secret_key) == (old_key, old_secret)
    c2 = srv2.client()
    d = c2.describe_thing(thingName=thing)
    assert d["thingId"] == created["thingId"]
    assert d["thingArn"] == created["thingArn"]
    assert d["version"] == 2
    assert d["attributes"] == {"a": "1", "b": "2"}
    assert d["thingTypeName"] == ttype
    assert c2.list_things_in_thing_group(thingGroupName=group)["things"] == [thing]
    tt = c2.describe_thing_type(thingTypeName=ttype)
    assert tt["thingTypeProperties"]["thingTypeDescription"] == "d"
    assert c2.list_tags_for_resource(resourceArn=tt["thingTypeArn"])["tags"] == [
        {"Key": "k", "Value": "v"}]
    assert srv2.client(region="eu-west-1").describe_thing(thingName=thing)["thingArn"] == west_arn
    # The old key pair keeps working: the credentials survive restarts.
    assert srv2.client(access_key=old_key, secret_key=old_secret).list_things()["things"]
