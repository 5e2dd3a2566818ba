#ifndef RUNNEL_DSL_INTERNAL_FWD_H_
#define RUNNEL_DSL_INTERNAL_FWD_H_

// The DSL's stream and table types, declared so that each public header can
// name the others (KStream::GroupByKey returns a KGroupedStream, whose
// aggregations return a KTable, whose ToStream returns a KStream, ...).
// Their definitions are only needed where a template is instantiated; user
// code includes runnel/dsl/streams_builder.h, which defines them all.

namespace runnel {

template <typename K, typename V>
class KStream;
template <typename K, typename V>
class KGroupedStream;
template <typename K, typename V>
class KTable;
template <typename K, typename V>
class KGroupedTable;
template <typename K, typename V>
class TimeWindowedKStream;
template <typename K, typename V>
class SessionWindowedKStream;
template <typename K, typename V>
class CountWindowedKStream;

}  // namespace runnel

#endif  // RUNNEL_DSL_INTERNAL_FWD_H_
