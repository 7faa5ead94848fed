"""An OPC-UA server simulating a pump station (asyncua), with fault injection for tests."""
