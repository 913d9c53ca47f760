// Package natstest is test support shared by the packages that talk to
// NATS: an embedded nats-server with JetStream (the real server, random
// port, temp store) and a poll for conditions that settle asynchronously.
package natstest
