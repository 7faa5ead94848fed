"""A minimal Greengrass component for the nucleus tests: over IPC it reads its configuration
(written as JSON to the file its first argument names), publishes one message to IoT Core on the
topic in its configuration, reports RUNNING and exits."""

import json
import sys

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

client = GreengrassCoreIPCClientV2()
configuration = client.get_configuration(key_path=[]).value
with open(sys.argv[1], "w") as out:
    json.dump(configuration, out)
client.publish_to_iot_core(topic_name=configuration["topic"], qos="1", payload=b'{"probe": 1}')
client.update_state(state="RUNNING")
client.close()
