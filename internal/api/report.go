package api

func (s *Server) reportRoutes() []Route {
	return nil
}
