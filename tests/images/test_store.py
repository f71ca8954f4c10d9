"""The store's pure helpers: skopeo's error text and the OCI image config."""

from __future__ import annotations

from zeroserve.images.base import ImageConfig
from zeroserve.images.store import image_config, tool_message


def test_tool_message_takes_skopeos_reason() -> None:
    stderr = (
        'time="2026-01-01T00:00:00Z" level=fatal msg="Error parsing image name \\"docker://127.0.0.1:5000/a:v9\\": '
        'reading manifest v9 in 127.0.0.1:5000/a: manifest unknown: manifest unknown"\n'
    )
    assert tool_message(stderr) == "reading manifest v9 in 127.0.0.1:5000/a: manifest unknown: manifest unknown"
    assert tool_message("umoci: something broke\n\n") == "umoci: something broke"
    assert tool_message("") == ""


def test_image_config_from_an_oci_config_blob() -> None:
    blob = {
        "architecture": "amd64",
        "config": {
            "Entrypoint": ["/app"],
            "Cmd": ["serve"],
            "Env": ["PATH=/bin", "EMPTY=", "A=b=c"],
            "WorkingDir": "/srv",
            "User": "1000:1000",
            "ExposedPorts": {"8080/tcp": {}, "53/udp": {}},
            "StopSignal": "SIGQUIT",
        },
    }
    assert image_config(blob) == ImageConfig(
        entrypoint=("/app",),
        cmd=("serve",),
        env=(("PATH", "/bin"), ("EMPTY", ""), ("A", "b=c")),
        working_dir="/srv",
        user="1000:1000",
        exposed_ports=("53/udp", "8080/tcp"),
        stop_signal="SIGQUIT",
    )
    assert image_config({"config": None}) == ImageConfig()
    assert image_config({}) == ImageConfig()
