"""The MLCommons power client (protocol v3) against a director stand-in on loopback."""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import sys
import time
from pathlib import Path

import pytest
from director_standin import DirectorStandIn, Faults
from hypothesis import given, settings
from hypothesis import strategies as st

from mlmeter.errors import UsageError
from mlmeter.power._director import DirectorSession
from mlmeter.power._director_meter import DirectorMeter, from_spec
from mlmeter.power._director_wire import Channel, WireError
from mlmeter.power._model import PowerError

pytestmark = pytest.mark.timeout(30)

# FETCH_FILES_LIST of the official client (reference §1.2), in its order.
OFFICIAL_FILES = [
    "power/ptd_logs.txt",
    "ranging/spl.txt",
    "power/server.json",
    "power/server.log",
    "run_1/spl.txt",
    "run_1/ptd_out.txt",
]
BINARY_LOG = bytes(range(256)) * 9 + b"0\r\n12\r\nError\n\r\r\n"


def _workload() -> None:
    time.sleep(0.06)  # a few stand-in sampling intervals


def _full_session(d: DirectorStandIn, out: Path, label: str = "my-run_1") -> DirectorSession:
    with DirectorSession(d.host, d.port, label, out, timeout_s=5) as s:
        for mode in ("ranging", "testing"):
            s.start(mode)
            _workload()
            s.stop(mode)
        s.done()
    return s


def test_full_session_sequence_and_files(tmp_path: Path) -> None:
    files = {"power/ptd_logs.txt": b"", "power/server.log": BINARY_LOG}
    with DirectorStandIn(tmp_path / "director", chunk_size=100, files=files) as d:
        s = _full_session(d, tmp_path / "out")
    sid, cu = s.session_id, s.record.client_uuid
    assert d.received[0] == b"mlcommons/power client v3\r\n"
    assert all(line.endswith(b"\r\n") for line in d.received)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_my-run_1", sid)
    stamp = dt.datetime.strptime(sid[:19], "%Y-%m-%d_%H-%M-%S").replace(tzinfo=dt.UTC)
    assert abs(stamp.timestamp() - time.time()) < 60
    expected = ["mlcommons/power client v3", "time", f"new,my-run_1,{cu}"]
    for mode in ("ranging", "testing"):
        expected += ["time", f"session,{sid},start,{mode}", "time", f"session,{sid},stop,{mode}"]
    expected += [f"session,{sid},done"] + [f"download,{sid},{f}" for f in OFFICIAL_FILES]
    expected += [f"cleanup,{sid}"]
    assert d.commands == expected
    assert d.sessions[sid].cleaned and d.sessions[sid].client_uuid == cu
    for rel in OFFICIAL_FILES:
        got = (tmp_path / "out" / rel).read_bytes()
        assert got == (d.session_dir(sid) / rel).read_bytes() == d.served[rel]
    assert (tmp_path / "out/power/ptd_logs.txt").read_bytes() == b""
    assert (tmp_path / "out/power/server.log").read_bytes() == BINARY_LOG
    assert len(d.served["run_1/spl.txt"]) > 2 * 100  # it came in several chunks


def test_client_json(tmp_path: Path) -> None:
    with DirectorStandIn(tmp_path / "director") as d:
        s = _full_session(d, tmp_path / "out")
    doc = json.loads((tmp_path / "out/power/client.json").read_text())
    standin = d.sessions[s.session_id]
    assert doc["session_name"] == s.session_id
    assert doc["client_uuid"] == standin.client_uuid
    assert doc["server_uuid"] == standin.server_uuid
    assert doc["timezone_offset_s"] == time.localtime().tm_gmtoff
    assert [m["cmd"] for m in doc["messages"]] == d.commands
    assert doc["messages"][0]["reply"] == "mlcommons/power server v3"
    for m in doc["messages"]:
        assert m["sent_time"] <= m["reply_time"]
    names = ["before_start", "after_start", "after_workload", "after_stop"]
    for mode in ("ranging", "testing"):
        stamps = doc["phases"][mode]
        assert list(stamps) == names
        walls = [stamps[n][0] for n in names]
        monos = [stamps[n][1] for n in names]
        assert walls == sorted(walls) and monos == sorted(monos)
        assert monos[2] - monos[1] >= 0.05  # the workload ran between start and stop
    assert doc["phases"]["testing"]["before_start"][1] >= doc["phases"]["ranging"]["after_stop"][1]
    assert len(doc["clock_checks"]) == 5
    assert all(abs(c["offset_ms"]) < 100 for c in doc["clock_checks"])
    assert set(doc["results"]) == set(OFFICIAL_FILES)
    log = (tmp_path / "out/power/client.log").read_text()
    assert f"Sending command to the server: 'session,{s.session_id},done'" in log


def test_meter_samples_equal_the_directors(tmp_path: Path) -> None:
    with DirectorStandIn(tmp_path / "director") as d:
        m = DirectorMeter(d.host, d.port, label="meter", output_dir=tmp_path / "out", timeout_s=5)
        assert m.probe().ok
        try:
            got = {}
            for phase in ("ranging", "testing"):
                m.start("ignored", phase)
                assert m.samples() == []
                _workload()
                got[phase] = m.stop()
                assert m.samples() == got[phase]
            info = m.identify()
        finally:
            m.close()
    for phase in ("ranging", "testing"):
        assert got[phase] == d.samples[phase]
        assert len(got[phase]) >= 3
        assert {x.mark for x in got[phase]} == {f"{info.details['session']}_{phase}"}
    assert {x.watts for x in got["testing"]} == {100.0, 150.0}
    assert (info.kind, info.scope, info.valid_for_closed, info.needs_ranging) == (
        "director",
        "wall AC",
        True,
        True,
    )
    for rel in [*OFFICIAL_FILES, "power/client.json", "power/client.log"]:
        assert (tmp_path / "out" / rel).is_file()


def test_meter_refuses_a_bad_spl(tmp_path: Path) -> None:
    files = {"ranging/spl.txt": b"Time,13-45-2024 00:00:00.000,Watts,1\n"}
    with DirectorStandIn(tmp_path / "director", files=files) as d:
        m = DirectorMeter(d.host, d.port, output_dir=tmp_path / "out", timeout_s=5)
        try:
            with pytest.raises(PowerError, match="stop\\(\\) without start"):
                m.stop()
            m.start("x", "ranging")
            with pytest.raises(PowerError, match=r"bad ranging/spl\.txt: .*spl\.txt:1"):
                m.stop()
        finally:
            m.close()


def test_error_reply_at_start_names_the_step(tmp_path: Path) -> None:
    faults = Faults(error_at="start:ranging")
    with (
        DirectorStandIn(tmp_path / "d", faults=faults) as d,
        pytest.raises(PowerError, match=r"start ranging failed: .*'Error: injected"),
    ):
        _full_session(d, tmp_path / "out")
    assert (tmp_path / "out/power/client.json").is_file()  # written on failure too


@pytest.mark.parametrize(
    ("faults", "step", "why"),
    [
        (Faults(drop_at="stop:testing"), "stop testing", "closed the connection"),
        (Faults(drop_at="download:run_1/spl.txt"), "download run_1/spl.txt", "closed"),
        (Faults(silent_at="start:testing"), "start testing", r"no reply within 0\.5 s"),
        (Faults(drop_at="handshake"), "handshake", "closed the connection"),
    ],
)
def test_dropped_or_silent_director_fails_in_time(
    tmp_path: Path, faults: Faults, step: str, why: str
) -> None:
    with DirectorStandIn(tmp_path / "d", faults=faults) as d:
        t0 = time.monotonic()
        with (
            pytest.raises(PowerError, match=rf"{re.escape(step)} failed: .*{why}"),
            DirectorSession(d.host, d.port, "x", tmp_path / "out", timeout_s=0.5) as s,
        ):
            for mode in ("ranging", "testing"):
                s.start(mode)
                s.stop(mode)
            s.done()
        assert time.monotonic() - t0 < 3


def test_clock_offset_refused_before_the_mode(tmp_path: Path) -> None:
    faults = Faults(clock_offset_s=1.0, clock_offset_after=1)
    with DirectorStandIn(tmp_path / "d", faults=faults) as d, pytest.raises(PowerError) as err:
        _full_session(d, tmp_path / "out")
    msg = str(err.value)
    found = re.search(r"is (\d+) ms before ranging \(limit 400 ms\)", msg)
    assert found and 990 <= int(found.group(1)) <= 1100, msg
    assert not any(",start," in c for c in d.commands)


def test_clock_offset_refused_at_the_session_start(tmp_path: Path) -> None:
    with (
        DirectorStandIn(tmp_path / "d", faults=Faults(clock_offset_s=-0.5)) as d,
        pytest.raises(PowerError, match=r"\d+ ms at the session start \(limit 400 ms\)"),
    ):
        _full_session(d, tmp_path / "out")
    assert d.commands == ["mlcommons/power client v3", "time"]


def test_bad_label_is_a_one_line_usage_error(tmp_path: Path) -> None:
    with DirectorStandIn(tmp_path / "d") as d:
        with pytest.raises(UsageError) as err:
            DirectorSession(d.host, d.port, "bad label!", tmp_path / "out")
        with pytest.raises(UsageError):
            from_spec(f"director://{d.host}:{d.port}?label=a.b")
    assert "\n" not in str(err.value) and "'bad label!'" in str(err.value)
    assert d.commands == []


def test_from_spec() -> None:
    m = from_spec("director://10.0.0.5:4951?label=run-1&timeout=7")
    assert (m.host, m.port, m.label, m.timeout_s) == ("10.0.0.5", 4951, "run-1", 7.0)
    assert (from_spec("//10.0.0.5").port, from_spec("director:h.example").host) == (
        4950,
        "h.example",
    )
    for bad in ("director://", "director://h:99999", "director://h?colour=red", "ptd://h"):
        with pytest.raises(UsageError, match="director://HOST"):
            from_spec(bad)


def test_probe_unreachable_and_not_a_director(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as srv:
        port = srv.getsockname()[1]
    assert not DirectorMeter("127.0.0.1", port, connect_timeout_s=1).probe().ok
    with DirectorStandIn(tmp_path / "d", faults=Faults(error_at="handshake")) as d:
        a = DirectorMeter(d.host, d.port, timeout_s=1).probe()
    assert not a.ok and "not a v3 power director" in a.reason


@pytest.mark.skipif(sys.platform != "linux", reason="the TCP keepalive options are Linux's")
def test_keepalive_as_the_official_client(tmp_path: Path) -> None:
    with DirectorStandIn(tmp_path / "d") as d:
        chan = Channel.connect(d.host, d.port, 1, 1)
        try:
            sock = chan.sock
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
            opts = (socket.TCP_KEEPIDLE, socket.TCP_KEEPINTVL, socket.TCP_KEEPCNT)
            assert [sock.getsockopt(socket.IPPROTO_TCP, o) for o in opts] == [2, 2, 10]
        finally:
            chan.close()


def _channel_reading(raw: bytes, timeout_s: float = 1.0) -> tuple[Channel, socket.socket]:
    a, b = socket.socketpair()
    b.sendall(raw)
    return Channel(a, timeout_s), b


@pytest.mark.parametrize(
    ("raw", "data"),
    [
        (b"0\r\n", b""),
        (b"3\r\nabc2\n\r\n0\r\n", b"abc\r\n"),  # a bare-LF length line is read too
        (b"1\r\n0" * 5 + b"0\r\nnext\r\n", b"00000"),
    ],
)
def test_file_transfer_framing(raw: bytes, data: bytes) -> None:
    chan, peer = _channel_reading(raw)
    with peer:
        try:
            assert chan.recv_file() == data
        finally:
            chan.close()


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"Error: no such file\r\n", "the director answered 'Error: no such file'"),
        (b"-1\r\n", "expected a chunk length"),
        (b"5\r\nab", "closed the connection"),
        (b"5\r\nabcde", r"no reply within 0\.2 s"),  # the end marker never comes
    ],
)
def test_file_transfer_faults(raw: bytes, why: str) -> None:
    chan, peer = _channel_reading(raw, timeout_s=0.2)
    try:
        if why == "closed the connection":
            peer.close()
        with pytest.raises(WireError, match=why):
            chan.recv_file()
    finally:
        chan.close()
        peer.close()


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=3000), st.integers(min_value=1, max_value=700))
def test_file_transfer_round_trip(data: bytes, chunk: int) -> None:
    parts = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    raw = b"".join(b"%d\r\n" % len(p) + p for p in parts) + b"0\r\nOK\r\n"
    chan, peer = _channel_reading(raw)
    with peer:
        try:
            assert chan.recv_file() == data
            assert chan.recv_line() == "OK"  # nothing of the next line was eaten
        finally:
            chan.close()
