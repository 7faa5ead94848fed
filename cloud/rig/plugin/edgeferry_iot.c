/*
 * edgeferry_iot: Mosquitto 2.0 plugin that makes the broker authorise as AWS IoT Core does.
 *
 * Everything it enforces comes from a rules file that Python compiles from the AWS IoT policy
 * documents (cloud/rig/rules.py); this file only evaluates them:
 *
 *  - CONNECT: the client certificate is identified by its certificateId (SHA-256 of its DER, as
 *    AWS names certificates) and becomes the connection's username. The certificate must be
 *    ACTIVE and its policies must allow iot:Connect on client/<clientId>, where
 *    ${iot:Connection.Thing.ThingName} resolves only when the client id is the name of a thing
 *    attached to the certificate. Refusal: CONNACK 0x87 (MQTT 5) / 5 (MQTT 3.1.1).
 *    Connect rate: per client id and account-wide token buckets; an attempt over the rate is
 *    closed without a CONNACK (the plugin API cannot choose another CONNACK code).
 *  - SUBSCRIBE: iot:Subscribe on topicfilter/<filter>; refusal: SUBACK 0x87 / 0x80.
 *  - PUBLISH: iot:Publish on topic/<topic>; refusal: PUBACK 0x87 under MQTT 5, the connection is
 *    closed under MQTT 3.1.1. A payload over the size limit closes the connection.
 *    Over the per-connection publish rate the message is dropped.
 *  - delivery: iot:Receive on topic/<topic>.
 *  - every accepted message carries user properties naming its publisher's client id and
 *    certificate id (any such property the client sent is removed first).
 *  - the rules file is re-read when it changes (checked every broker tick); connections of a
 *    certificate that is no longer ACTIVE are closed at once, then "<rules>.loaded" says which
 *    version is in force. A second, append-only principals
 *    file lists certificates issued by the rig itself; it is read incrementally.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/sha.h>
#include <openssl/x509.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <mqtt_protocol.h>

#define MAX_LINE 4096
#define MAX_RESOURCE 2048
#define BUCKETS 16384
#define THING_VAR "${iot:Connection.Thing.ThingName}"
#define CLIENT_VAR "${iot:ClientId}"
#define PROP_CLIENT_ID "edgeferry-clientid"
#define PROP_PRINCIPAL "edgeferry-principal"
#define DROP_TOPIC "$edgeferry/throttled"

enum action { CONNECT, PUBLISH, SUBSCRIBE, RECEIVE, ANY_ACTION };

struct statement {
	bool allow;
	enum action action;
	bool needs_thing;
	char *resource;
	struct statement *next;
};

struct policy {
	char *name;
	struct statement *statements;
	struct policy *next;
};

struct principal {
	char *cert_id;
	bool active;
	bool limited;
	char **policies;
	int policy_count;
	char **things;
	int thing_count;
	struct principal *next;
};

struct session {
	const struct mosquitto *client;
	char *cert_id;
	char *client_id;
	char *thing;
	double tokens;
	double at;
	struct session *next;
};

struct rate {
	char *client_id;
	double tokens;
	double at;
	struct rate *next;
};

struct rules {
	char *prefix;
	double connect_per_client;
	double connect_per_account;
	double publish_per_second;
	uint32_t max_payload;
	struct policy *policies;
	struct principal *principals[BUCKETS];
};

static mosquitto_plugin_id_t *plugin_id;
static char *rules_path;
static char *principals_path;
static struct rules *rules;
static struct principal *issued[BUCKETS];
static long issued_offset;
static ino_t issued_inode;
static struct session *sessions[BUCKETS];
static struct rate *rates[BUCKETS];
static double account_tokens;
static double account_at;
static struct timespec rules_mtime;
static off_t rules_size;
static ino_t rules_inode;
static double last_prune;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned hash_str(const char *s)
{
	uint32_t h = 2166136261u;
	for(; *s; s++){ h = (h ^ (uint8_t)*s) * 16777619u; }
	return h % BUCKETS;
}

static unsigned hash_ptr(const void *p)
{
	return (unsigned)(((uintptr_t)p >> 4) % BUCKETS);
}

/* a token bucket holds one second of its rate, and at least one token */
static double capacity(double rate)
{
	return rate < 1.0 ? 1.0 : rate;
}

/* token bucket: refill at rate per second up to its capacity; take one if any (rate 0: no limit) */
static bool take(double *tokens, double *at, double rate, double now)
{
	if(rate <= 0) return true;
	*tokens += (now - *at) * rate;
	if(*tokens > capacity(rate)) *tokens = capacity(rate);
	*at = now;
	if(*tokens < 1.0) return false;
	*tokens -= 1.0;
	return true;
}

static char **split_list(const char *text, int *count)
{
	char **items = NULL;
	char *copy, *token, *save = NULL;
	*count = 0;
	if(!strcmp(text, "-")) return NULL;
	copy = strdup(text);
	for(token = strtok_r(copy, ",", &save); token; token = strtok_r(NULL, ",", &save)){
		items = realloc(items, sizeof(char *) * (size_t)(*count + 1));
		items[(*count)++] = strdup(token);
	}
	free(copy);
	return items;
}

static void free_principal(struct principal *p)
{
	int i;
	for(i = 0; i < p->policy_count; i++) free(p->policies[i]);
	for(i = 0; i < p->thing_count; i++) free(p->things[i]);
	free(p->policies);
	free(p->things);
	free(p->cert_id);
	free(p);
}

static void free_principals(struct principal **table)
{
	int b;
	for(b = 0; b < BUCKETS; b++){
		while(table[b]){
			struct principal *next = table[b]->next;
			free_principal(table[b]);
			table[b] = next;
		}
	}
}

static void free_rules(struct rules *r)
{
	if(!r) return;
	while(r->policies){
		struct policy *p = r->policies;
		r->policies = p->next;
		while(p->statements){
			struct statement *s = p->statements;
			p->statements = s->next;
			free(s->resource);
			free(s);
		}
		free(p->name);
		free(p);
	}
	free_principals(r->principals);
	free(r->prefix);
	free(r);
}

/* "principal <cert_id> <ACTIVE|...> <limited 0|1> <policies,> <things,|->" */
static bool parse_principal(char **fields, int n, struct principal **table)
{
	struct principal *p;
	unsigned b;
	if(n != 6) return false;
	p = calloc(1, sizeof(*p));
	p->cert_id = strdup(fields[1]);
	p->active = !strcmp(fields[2], "ACTIVE");
	p->limited = !strcmp(fields[3], "1");
	p->policies = split_list(fields[4], &p->policy_count);
	p->things = split_list(fields[5], &p->thing_count);
	b = hash_str(p->cert_id);
	p->next = table[b];
	table[b] = p;
	return true;
}

static int split_fields(char *line, char **fields, int max)
{
	int n = 0;
	char *save = NULL, *token;
	line[strcspn(line, "\r\n")] = '\0';
	for(token = strtok_r(line, "\t", &save); token && n < max; token = strtok_r(NULL, "\t", &save)){
		fields[n++] = token;
	}
	return n;
}

static bool parse_action(const char *text, enum action *out)
{
	if(!strcmp(text, "iot:Connect")) *out = CONNECT;
	else if(!strcmp(text, "iot:Publish")) *out = PUBLISH;
	else if(!strcmp(text, "iot:Subscribe")) *out = SUBSCRIBE;
	else if(!strcmp(text, "iot:Receive")) *out = RECEIVE;
	else if(!strcmp(text, "iot:*") || !strcmp(text, "*")) *out = ANY_ACTION;
	else return false;
	return true;
}

static struct rules *load_rules(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[MAX_LINE];
	char *fields[8];
	struct rules *r;
	struct policy *current = NULL;
	int n, lineno = 0;

	if(!f){
		mosquitto_log_printf(MOSQ_LOG_ERR, "edgeferry_iot: cannot open rules %s", path);
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	r->prefix = strdup("arn:aws:iot:local:000000000000:");
	while(fgets(line, sizeof(line), f)){
		lineno++;
		if(line[0] == '#' || line[0] == '\n') continue;
		n = split_fields(line, fields, 8);
		if(n == 0) continue;
		if(!strcmp(fields[0], "prefix") && n == 2){
			free(r->prefix);
			r->prefix = strdup(fields[1]);
		}else if(!strcmp(fields[0], "limit") && n == 3){
			double v = atof(fields[2]);
			if(!strcmp(fields[1], "connect_per_client")) r->connect_per_client = v;
			else if(!strcmp(fields[1], "connect_per_account")) r->connect_per_account = v;
			else if(!strcmp(fields[1], "publish_per_second")) r->publish_per_second = v;
			else if(!strcmp(fields[1], "max_payload")) r->max_payload = (uint32_t)v;
		}else if(!strcmp(fields[0], "policy") && n == 2){
			current = calloc(1, sizeof(*current));
			current->name = strdup(fields[1]);
			current->next = r->policies;
			r->policies = current;
		}else if(!strcmp(fields[0], "statement") && n == 5 && current){
			struct statement *s = calloc(1, sizeof(*s));
			s->allow = !strcmp(fields[1], "Allow");
			s->needs_thing = !strcmp(fields[3], "1");
			s->resource = strdup(fields[4]);
			if(!parse_action(fields[2], &s->action)){
				free(s->resource);
				free(s);
				goto bad;
			}
			s->next = current->statements;
			current->statements = s;
		}else if(!strcmp(fields[0], "principal")){
			if(!parse_principal(fields, n, r->principals)) goto bad;
		}else{
			goto bad;
		}
		continue;
bad:
		mosquitto_log_printf(MOSQ_LOG_ERR, "edgeferry_iot: %s:%d: line not understood", path, lineno);
	}
	fclose(f);
	return r;
}

/* read principals appended to the issued-identities file since the last read */
static void read_issued(void)
{
	struct stat st;
	FILE *f;
	char line[MAX_LINE];
	char *fields[8];

	if(!principals_path || stat(principals_path, &st)) return;
	if(st.st_ino != issued_inode || st.st_size < issued_offset){
		free_principals(issued);
		issued_offset = 0;
		issued_inode = st.st_ino;
	}
	if(st.st_size == issued_offset) return;
	f = fopen(principals_path, "r");
	if(!f) return;
	fseek(f, issued_offset, SEEK_SET);
	while(fgets(line, sizeof(line), f)){
		size_t len = strlen(line);
		if(len == 0 || line[len - 1] != '\n') break; /* a line still being written */
		issued_offset += (long)len;
		if(split_fields(line, fields, 8) == 6 && !strcmp(fields[0], "principal")){
			parse_principal(fields, 6, issued);
		}
	}
	fclose(f);
}

static struct principal *find_in(struct principal **table, const char *cert_id)
{
	struct principal *p;
	for(p = table[hash_str(cert_id)]; p; p = p->next){
		if(!strcmp(p->cert_id, cert_id)) return p;
	}
	return NULL;
}

/* the registry's entry wins over the rig's own issue record */
static struct principal *find_principal(const char *cert_id)
{
	struct principal *p = rules ? find_in(rules->principals, cert_id) : NULL;
	return p ? p : find_in(issued, cert_id);
}

static struct policy *find_policy(const char *name)
{
	struct policy *p;
	for(p = rules ? rules->policies : NULL; p; p = p->next){
		if(!strcmp(p->name, name)) return p;
	}
	return NULL;
}

static const char *attached_thing(const struct principal *who, const char *client_id)
{
	int i;
	for(i = 0; who && client_id && i < who->thing_count; i++){
		if(!strcmp(who->things[i], client_id)) return client_id;
	}
	return NULL;
}

/* IoT policy wildcards: '*' any run of characters ('/' included), '?' one character */
static bool glob(const char *pattern, const char *text)
{
	const char *star = NULL, *retry = NULL;
	while(*text){
		if(*pattern == '*'){
			star = pattern++;
			retry = text;
		}else if(*pattern == '?' || *pattern == *text){
			pattern++;
			text++;
		}else if(star){
			pattern = star + 1;
			text = ++retry;
		}else{
			return false;
		}
	}
	while(*pattern == '*') pattern++;
	return *pattern == '\0';
}

/* substitute the policy variables; false when one cannot be resolved (the statement then does
 * not apply, as in IoT Core) */
static bool expand(const char *resource, const char *thing, const char *client_id, char *out, size_t size)
{
	size_t used = 0;
	while(*resource){
		const char *value = NULL;
		size_t skip = 1;
		if(!strncmp(resource, THING_VAR, strlen(THING_VAR))){
			if(!thing) return false;
			value = thing;
			skip = strlen(THING_VAR);
		}else if(!strncmp(resource, CLIENT_VAR, strlen(CLIENT_VAR))){
			value = client_id;
			skip = strlen(CLIENT_VAR);
		}else if(!strncmp(resource, "${", 2)){
			return false;
		}
		if(value){
			size_t len = strlen(value);
			if(used + len >= size) return false;
			memcpy(out + used, value, len);
			used += len;
		}else{
			if(used + 1 >= size) return false;
			out[used++] = *resource;
		}
		resource += skip;
	}
	out[used] = '\0';
	return true;
}

/* Deny wins over Allow; nothing allowed means denied (IoT policy evaluation) */
static bool authorised(const struct principal *who, const char *thing, const char *client_id,
		enum action action, const char *kind, const char *name)
{
	char requested[MAX_RESOURCE], resource[MAX_RESOURCE];
	bool allowed = false;
	int i;
	if(!rules || !who->active) return false;
	if((size_t)snprintf(requested, sizeof(requested), "%s%s/%s", rules->prefix, kind, name) >= sizeof(requested)){
		return false;
	}
	for(i = 0; i < who->policy_count; i++){
		struct policy *policy = find_policy(who->policies[i]);
		struct statement *s;
		for(s = policy ? policy->statements : NULL; s; s = s->next){
			if(s->action != action && s->action != ANY_ACTION) continue;
			if(s->needs_thing && !thing) continue;
			if(!expand(s->resource, thing, client_id, resource, sizeof(resource))) continue;
			if(!glob(resource, requested)) continue;
			if(!s->allow) return false;
			allowed = true;
		}
	}
	return allowed;
}

static struct session *find_session(const struct mosquitto *client)
{
	struct session *s;
	for(s = sessions[hash_ptr(client)]; s; s = s->next){
		if(s->client == client) return s;
	}
	return NULL;
}

static void drop_session(const struct mosquitto *client)
{
	struct session **link = &sessions[hash_ptr(client)];
	while(*link){
		struct session *s = *link;
		if(s->client == client){
			*link = s->next;
			free(s->cert_id);
			free(s->client_id);
			free(s->thing);
			free(s);
			return;
		}
		link = &s->next;
	}
}

static bool certificate_id(const struct mosquitto *client, char out[65])
{
	X509 *cert = mosquitto_client_certificate(client);
	unsigned char *der = NULL, digest[SHA256_DIGEST_LENGTH];
	int len, i;
	if(!cert) return false;
	len = i2d_X509(cert, &der);
	X509_free(cert);
	if(len <= 0) return false;
	SHA256(der, (size_t)len, digest);
	OPENSSL_free(der);
	for(i = 0; i < SHA256_DIGEST_LENGTH; i++) sprintf(out + 2 * i, "%02x", digest[i]);
	return true;
}

static bool connect_rate_allows(const char *client_id, double now)
{
	struct rate *r;
	unsigned b = hash_str(client_id);
	for(r = rates[b]; r; r = r->next){
		if(!strcmp(r->client_id, client_id)) break;
	}
	if(!r){
		r = calloc(1, sizeof(*r));
		r->client_id = strdup(client_id);
		r->tokens = 1.0;
		r->at = now;
		r->next = rates[b];
		rates[b] = r;
	}
	if(!take(&r->tokens, &r->at, rules->connect_per_client, now)) return false;
	return take(&account_tokens, &account_at, rules->connect_per_account, now);
}

static int on_basic_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;
	const char *client_id = mosquitto_client_id(ed->client);
	struct principal *who;
	struct session *s;
	const char *thing = NULL;
	char cert_id[65];
	(void)event; (void)userdata;

	if(!rules || !client_id || !certificate_id(ed->client, cert_id)) return MOSQ_ERR_AUTH;
	who = find_principal(cert_id);
	if(!who){
		read_issued();
		who = find_principal(cert_id);
	}
	if(!who || !who->active) return MOSQ_ERR_AUTH;
	thing = attached_thing(who, client_id);
	if(!authorised(who, thing, client_id, CONNECT, "client", client_id)) return MOSQ_ERR_AUTH;
	s = find_session(ed->client);
	if(s && !strcmp(s->cert_id, cert_id) && !strcmp(s->client_id, client_id)){
		/* the broker re-checks every connection when it reloads (SIGHUP): not a new CONNECT */
		return MOSQ_ERR_SUCCESS;
	}
	if(who->limited && !connect_rate_allows(client_id, now_s())){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "edgeferry_iot: connect rate exceeded for %s", client_id);
		return MOSQ_ERR_CONN_REFUSED;
	}
	if(mosquitto_set_username(ed->client, cert_id) != MOSQ_ERR_SUCCESS) return MOSQ_ERR_AUTH;
	drop_session(ed->client);
	s = calloc(1, sizeof(*s));
	s->client = ed->client;
	s->cert_id = strdup(cert_id);
	s->client_id = strdup(client_id);
	s->thing = thing ? strdup(thing) : NULL;
	s->tokens = capacity(rules->publish_per_second);
	s->at = now_s();
	s->next = sessions[hash_ptr(ed->client)];
	sessions[hash_ptr(ed->client)] = s;
	return MOSQ_ERR_SUCCESS;
}

static int on_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	struct session *s = find_session(ed->client);
	/* a persistent session whose client is offline (or restored after a restart) still receives
	 * into its queue: it is known by the username (certificate id) it connected with */
	const char *cert_id = s ? s->cert_id : mosquitto_client_username(ed->client);
	const char *client_id = s ? s->client_id : mosquitto_client_id(ed->client);
	struct principal *who = cert_id ? find_principal(cert_id) : NULL;
	const char *thing = s ? s->thing : attached_thing(who, client_id);
	bool v5 = mosquitto_client_protocol_version(ed->client) == 5;
	(void)event; (void)userdata;

	if(!who || !client_id) return ed->access == MOSQ_ACL_WRITE && !v5 ? MOSQ_ERR_AUTH : MOSQ_ERR_ACL_DENIED;
	switch(ed->access){
		case MOSQ_ACL_UNSUBSCRIBE:
			return MOSQ_ERR_SUCCESS;
		case MOSQ_ACL_SUBSCRIBE:
			return authorised(who, thing, client_id, SUBSCRIBE, "topicfilter", ed->topic)
				? MOSQ_ERR_SUCCESS : MOSQ_ERR_ACL_DENIED;
		case MOSQ_ACL_READ:
			return authorised(who, thing, client_id, RECEIVE, "topic", ed->topic)
				? MOSQ_ERR_SUCCESS : MOSQ_ERR_ACL_DENIED;
		case MOSQ_ACL_WRITE:
			if(rules && rules->max_payload && ed->payloadlen > rules->max_payload){
				/* IoT Core disconnects a client whose payload exceeds the limit (CLIENT_ERROR) */
				return MOSQ_ERR_OVERSIZE_PACKET;
			}
			if(authorised(who, thing, client_id, PUBLISH, "topic", ed->topic)){
				return MOSQ_ERR_SUCCESS;
			}
			/* MQTT 5: PUBACK 0x87; MQTT 3.1.1 has no refusal code: IoT Core disconnects (AUTH_ERROR) */
			return v5 ? MOSQ_ERR_ACL_DENIED : MOSQ_ERR_AUTH;
		default:
			return MOSQ_ERR_ACL_DENIED;
	}
}

/* copy every property except a user property that claims to say who published */
static mosquitto_property *trusted_properties(const mosquitto_property *in, const struct session *s)
{
	mosquitto_property *out = NULL;
	const mosquitto_property *p;
	for(p = in; p; p = mosquitto_property_next(p)){
		int id = mosquitto_property_identifier(p), type = 0, ident = 0;
		const char *name = mosquitto_property_identifier_to_string(id);
		if(!name || mosquitto_string_to_property_info(name, &ident, &type)) continue;
		switch(type){
			case MQTT_PROP_TYPE_BYTE: {
				uint8_t v; mosquitto_property_read_byte(p, id, &v, false);
				mosquitto_property_add_byte(&out, id, v); break; }
			case MQTT_PROP_TYPE_INT16: {
				uint16_t v; mosquitto_property_read_int16(p, id, &v, false);
				mosquitto_property_add_int16(&out, id, v); break; }
			case MQTT_PROP_TYPE_INT32: {
				uint32_t v; mosquitto_property_read_int32(p, id, &v, false);
				mosquitto_property_add_int32(&out, id, v); break; }
			case MQTT_PROP_TYPE_VARINT: {
				uint32_t v; mosquitto_property_read_varint(p, id, &v, false);
				mosquitto_property_add_varint(&out, id, v); break; }
			case MQTT_PROP_TYPE_BINARY: {
				void *v = NULL; uint16_t len = 0;
				mosquitto_property_read_binary(p, id, &v, &len, false);
				mosquitto_property_add_binary(&out, id, v, len); free(v); break; }
			case MQTT_PROP_TYPE_STRING: {
				char *v = NULL; mosquitto_property_read_string(p, id, &v, false);
				if(v) mosquitto_property_add_string(&out, id, v);
				free(v); break; }
			case MQTT_PROP_TYPE_STRING_PAIR: {
				char *k = NULL, *v = NULL;
				mosquitto_property_read_string_pair(p, id, &k, &v, false);
				if(k && v && strcmp(k, PROP_CLIENT_ID) && strcmp(k, PROP_PRINCIPAL)){
					mosquitto_property_add_string_pair(&out, id, k, v);
				}
				free(k); free(v); break; }
			default:
				break;
		}
	}
	mosquitto_property_add_string_pair(&out, MQTT_PROP_USER_PROPERTY, PROP_CLIENT_ID, s->client_id);
	mosquitto_property_add_string_pair(&out, MQTT_PROP_USER_PROPERTY, PROP_PRINCIPAL, s->cert_id);
	return out;
}

static int on_message(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_message *ed = event_data;
	struct session *s = find_session(ed->client);
	struct principal *who = s ? find_principal(s->cert_id) : NULL;
	mosquitto_property *props;
	(void)event; (void)userdata;

	if(!s) return MOSQ_ERR_SUCCESS;
	if(who && who->limited && rules->publish_per_second > 0
			&& !take(&s->tokens, &s->at, rules->publish_per_second, now_s())){
		/* IoT Core drops publishes beyond the per-connection rate */
		mosquitto_free(ed->topic);
		ed->topic = mosquitto_strdup(DROP_TOPIC);
		return MOSQ_ERR_SUCCESS;
	}
	props = trusted_properties(ed->properties, s);
	mosquitto_property_free_all(&ed->properties);
	ed->properties = props;
	return MOSQ_ERR_SUCCESS;
}

static int on_disconnect(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_disconnect *ed = event_data;
	(void)event; (void)userdata;
	drop_session(ed->client);
	return MOSQ_ERR_SUCCESS;
}

/* after a reload: close every connection whose certificate may no longer connect */
static void kick_inactive(void)
{
	char **kick = NULL;
	int count = 0, b, i;
	for(b = 0; b < BUCKETS; b++){
		struct session *s;
		for(s = sessions[b]; s; s = s->next){
			struct principal *who = find_principal(s->cert_id);
			if(!who || !who->active){
				kick = realloc(kick, sizeof(char *) * (size_t)(count + 1));
				kick[count++] = strdup(s->cert_id);
			}
		}
	}
	for(i = 0; i < count; i++){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "edgeferry_iot: closing connections of certificate %s", kick[i]);
		mosquitto_kick_client_by_username(kick[i], false);
		free(kick[i]);
	}
	free(kick);
}

static void prune_rates(double now)
{
	int b;
	for(b = 0; b < BUCKETS; b++){
		struct rate **link = &rates[b];
		while(*link){
			struct rate *r = *link;
			if(now - r->at > 10.0){
				*link = r->next;
				free(r->client_id);
				free(r);
			}else{
				link = &r->next;
			}
		}
	}
}

/* tell whoever waits for a reload which version of the rules is in force: "<mtime ns> <size>" */
static void acknowledge(const struct stat *st)
{
	char path[4096], tmp[4100];
	FILE *f;
	snprintf(path, sizeof(path), "%s.loaded", rules_path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if(!f) return;
	fprintf(f, "%lld %lld\n", (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec,
			(long long)st->st_size);
	fclose(f);
	rename(tmp, path);
}

static void reload_if_changed(void)
{
	struct stat st;
	struct rules *fresh;
	if(stat(rules_path, &st)) return;
	if(st.st_mtim.tv_sec == rules_mtime.tv_sec && st.st_mtim.tv_nsec == rules_mtime.tv_nsec
			&& st.st_size == rules_size && st.st_ino == rules_inode){
		return;
	}
	fresh = load_rules(rules_path);
	if(!fresh) return;
	rules_mtime = st.st_mtim;
	rules_size = st.st_size;
	rules_inode = st.st_ino;
	free_rules(rules);
	rules = fresh;
	read_issued();
	kick_inactive();
	acknowledge(&st);
}

static int on_tick(int event, void *event_data, void *userdata)
{
	double now = now_s();
	(void)event; (void)event_data; (void)userdata;
	reload_if_changed();
	if(now - last_prune > 30.0){
		prune_rates(now);
		last_prune = now;
	}
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	int i;
	for(i = 0; i < supported_version_count; i++){
		if(supported_versions[i] == 5) return 5;
	}
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **user_data,
		struct mosquitto_opt *opts, int opt_count)
{
	int i;
	(void)user_data;
	plugin_id = identifier;
	for(i = 0; i < opt_count; i++){
		if(!strcmp(opts[i].key, "rules_file")) rules_path = strdup(opts[i].value);
		if(!strcmp(opts[i].key, "principals_file")) principals_path = strdup(opts[i].value);
	}
	if(!rules_path){
		mosquitto_log_printf(MOSQ_LOG_ERR, "edgeferry_iot: plugin_opt_rules_file is required");
		return MOSQ_ERR_INVAL;
	}
	reload_if_changed();
	if(!rules) return MOSQ_ERR_INVAL;
	account_tokens = capacity(rules->connect_per_account);
	account_at = now_s();
	last_prune = account_at;
	mosquitto_callback_register(plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL, NULL);
	mosquitto_callback_register(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, NULL);
	mosquitto_callback_register(plugin_id, MOSQ_EVT_MESSAGE, on_message, NULL, NULL);
	mosquitto_callback_register(plugin_id, MOSQ_EVT_DISCONNECT, on_disconnect, NULL, NULL);
	mosquitto_callback_register(plugin_id, MOSQ_EVT_TICK, on_tick, NULL, NULL);
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *user_data, struct mosquitto_opt *opts, int opt_count)
{
	(void)user_data; (void)opts; (void)opt_count;
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_MESSAGE, on_message, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_DISCONNECT, on_disconnect, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_TICK, on_tick, NULL);
	free_rules(rules);
	free_principals(issued);
	rules = NULL;
	return MOSQ_ERR_SUCCESS;
}
