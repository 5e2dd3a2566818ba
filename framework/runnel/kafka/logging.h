#ifndef RUNNEL_KAFKA_LOGGING_H_
#define RUNNEL_KAFKA_LOGGING_H_

// Routes librdkafka's own log lines into the "rdkafka" spdlog logger (syslog
// levels mapped to spdlog levels). Every client created by this module
// installs it; call it yourself only for an rd_kafka_conf_t you build by hand.

struct rd_kafka_conf_s;

namespace runnel::kafka {

void InstallLogCallback(rd_kafka_conf_s* conf);

}  // namespace runnel::kafka

#endif  // RUNNEL_KAFKA_LOGGING_H_
