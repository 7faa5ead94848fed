"""How the MQTT client reaches the broker: which awsiot builder, with which credentials and proxy.

Both awsiot builder modules (``mqtt5_client_builder``, ``mqtt_connection_builder``) offer the same
four builders with the same arguments, so one function picks the builder for either protocol:

============================  ==========  ==========================================
auth / transport              port        builder (ALPN it offers)
============================  ==========  ==========================================
x509 / mqtt                   8883, 443   ``mtls_from_path`` (``x-amzn-mqtt-ca`` on 443)
sigv4 / websockets            443         ``websockets_with_default_aws_signing``
custom_authorizer / mqtt      443         ``direct_with_custom_authorizer`` (``mqtt``)
custom_authorizer / websockets 443        ``websockets_with_custom_authorizer``
============================  ==========  ==========================================

(AWS IoT developer guide, protocols.html: port 443 with a certificate needs ALPN
``x-amzn-mqtt-ca``; custom authentication on 443 needs ALPN ``mqtt``.) An HTTP(S) proxy applies to
every row through awscrt's ``HttpProxyOptions``, and also to the credentials provider's request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from awscrt import auth, http, io

from edge_agent.identity import Identity
from edge_agent.publish.config import CustomAuthorizerAuth, HttpProxy, MqttPublishConfig, SigV4Auth
from edge_agent.secrets import reveal


def build_client(builders: Any, config: MqttPublishConfig, identity: Identity, **common: Any) -> Any:
    """A client (MQTT 5) or connection (3.1.1) from the awsiot ``builders`` module for ``config``;
    ``common`` carries the arguments every builder takes (callbacks, timeouts, session)."""
    common |= {"endpoint": config.endpoint, "port": config.port, "client_id": identity.thing_name}
    if identity.ca_path is not None:
        common["ca_filepath"] = str(identity.ca_path)
    proxy = proxy_options(config.proxy)
    if proxy is not None:
        common["http_proxy_options"] = proxy
    auth_config = config.auth
    if isinstance(auth_config, SigV4Auth):
        return builders.websockets_with_default_aws_signing(
            region=auth_config.region, credentials_provider=credentials_provider(auth_config, identity, proxy),
            **common)
    if isinstance(auth_config, CustomAuthorizerAuth):
        builder: Callable[..., Any] = (builders.websockets_with_custom_authorizer if config.transport == "websockets"
                   else builders.direct_with_custom_authorizer)
        # the username is the authorizer's input: keep it as configured, without SDK metrics
        return builder(**authorizer_arguments(auth_config), enable_metrics_collection=False, **common)
    return builders.mtls_from_path(cert_filepath=str(identity.cert_path),
                                   pri_key_filepath=str(identity.key_path), **common)


def authorizer_arguments(config: CustomAuthorizerAuth) -> dict[str, Any]:
    """The custom-authorizer builders' ``auth_*`` arguments, secrets read now."""
    return {
        "auth_username": config.username, "auth_authorizer_name": config.authorizer,
        "auth_authorizer_signature": config.token_signature,
        "auth_password": reveal(config.password) if config.password is not None else None,
        "auth_token_key_name": config.token_key_name,
        "auth_token_value": reveal(config.token) if config.token is not None else None,
    }


def credentials_provider(config: SigV4Auth, identity: Identity,
                         proxy: http.HttpProxyOptions | None = None) -> auth.AwsCredentialsProvider:
    """Temporary credentials from the IoT credentials provider (``GET /role-aliases/<alias>/
    credentials`` over mutual TLS with the device certificate), fetched
    for each connection attempt, so a connection always signs with fresh credentials."""
    options = io.TlsContextOptions.create_client_with_mtls_from_path(
        str(identity.cert_path), str(identity.key_path))
    if identity.ca_path is not None:
        options.override_default_trust_store_from_path(None, str(identity.ca_path))
    return auth.AwsCredentialsProvider.new_x509(
        endpoint=config.credentials_endpoint, thing_name=identity.thing_name, role_alias=config.role_alias,
        tls_ctx=io.ClientTlsContext(options), http_proxy_options=proxy)


def proxy_options(config: HttpProxy | None) -> http.HttpProxyOptions | None:
    """awscrt's proxy settings (a tunnelling CONNECT, with basic auth when a username is set)."""
    if config is None:
        return None
    tls = None
    if config.tls:
        options = io.TlsContextOptions()
        if config.ca is not None:
            options.override_default_trust_store_from_path(None, str(config.ca))
        tls = io.ClientTlsContext(options).new_connection_options()
        tls.set_server_name(config.host)
    basic = config.username is not None
    return http.HttpProxyOptions(
        config.host, config.port, tls_connection_options=tls,
        auth_type=http.HttpProxyAuthenticationType.Basic if basic else http.HttpProxyAuthenticationType.Nothing,
        auth_username=config.username,
        auth_password=reveal(config.password) if config.password is not None else None,
        connection_type=http.HttpProxyConnectionType.Tunneling)
