"""Choosing the link: auth and transport must fit, authorizer arguments, proxy options."""

from __future__ import annotations

from typing import Any

import pytest
from awscrt import http
from pydantic import ValidationError

from edge_agent.publish.config import CustomAuthorizerAuth, HttpProxy, MqttPublishConfig
from edge_agent.publish.links import authorizer_arguments, proxy_options

SIGV4 = {"type": "sigv4", "region": "eu-west-1", "role_alias": "edge", "credentials_endpoint": "c.example"}


@pytest.mark.parametrize(("settings", "message"), [
    ({"transport": "websockets"}, "transport websockets needs auth sigv4 or custom_authorizer"),
    ({"auth": SIGV4}, "auth sigv4 needs transport websockets"),
    ({"transport": "websockets", "auth": {**SIGV4, "role_alias": "no/slash"}}, "auth.sigv4.role_alias"),
    ({"transport": "websockets", "auth": {"type": "custom_authorizer", "token": "t"}},
     "token_key_name and token go together"),
    ({"auth": {"type": "kerberos"}}, "auth"),
    ({"auth": {"type": "custom_authorizer"}}, "auth custom_authorizer over transport mqtt needs port 443"),
])
def test_auth_must_fit_the_transport(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as error:
        MqttPublishConfig.model_validate(settings)
    assert message in str(error.value)


def test_valid_links() -> None:
    assert MqttPublishConfig(port=443).auth.type == "x509"
    assert MqttPublishConfig.model_validate({"transport": "websockets", "auth": SIGV4}).auth.type == "sigv4"
    direct = MqttPublishConfig.model_validate({"port": 443, "auth": {"type": "custom_authorizer"}})
    assert direct.transport == "mqtt"


def test_authorizer_arguments_read_their_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_TOKEN", "tok")
    auth = CustomAuthorizerAuth.model_validate({
        "type": "custom_authorizer", "authorizer": "EdgeAuth", "username": "edge", "password": "pw",
        "token_key_name": "token", "token": {"env": "AUTH_TOKEN"}, "token_signature": "c2ln"})
    assert authorizer_arguments(auth) == {
        "auth_username": "edge", "auth_authorizer_name": "EdgeAuth", "auth_authorizer_signature": "c2ln",
        "auth_password": "pw", "auth_token_key_name": "token", "auth_token_value": "tok"}


def test_proxy_options() -> None:
    assert proxy_options(None) is None
    plain = proxy_options(HttpProxy(host="proxy.plant", port=3128))
    assert plain is not None
    assert (plain.host_name, plain.port, plain.auth_type) == ("proxy.plant", 3128,
                                                              http.HttpProxyAuthenticationType.Nothing)
    assert plain.connection_type is http.HttpProxyConnectionType.Tunneling
    secured = proxy_options(HttpProxy(host="proxy.plant", port=3129, tls=True, username="u", password="p"))
    assert secured is not None
    assert secured.tls_connection_options is not None
    assert (secured.auth_type, secured.auth_username, secured.auth_password) == (
        http.HttpProxyAuthenticationType.Basic, "u", "p")
