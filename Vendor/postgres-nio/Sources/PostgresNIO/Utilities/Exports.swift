@_documentation(visibility: internal) @_exported import NIO
@_documentation(visibility: internal) @_exported import NIOSSL
@_documentation(visibility: internal) @_exported import struct Logging.Logger
