import ArgumentParser
import BorderlineCore
import BorderlineHost

extension DataSplit: ExpressibleByArgument {}
extension ModelFileFormat: ExpressibleByArgument {}
