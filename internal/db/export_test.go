package db

// IDLookupIndexName exposes the lookup index's name to the db_test package.
var IDLookupIndexName = idLookupIndexName
